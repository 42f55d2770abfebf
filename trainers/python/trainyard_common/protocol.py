"""
The trainer protocol, Python side (the TypeScript side is src/trainers/protocol.ts).

A trainer is started as `python -m trainyard_<pack> --spec job.json`. It writes one JSON object
per line on stdout (progress, metrics, log, checkpoint, artifact, sample, result), puts its artifacts in
spec["output_dir"], and exits 0 on success. SIGTERM asks it to stop: it may write a checkpoint
first; SIGKILL follows after the worker's grace period.

Libraries print to stdout too (diffusers, tqdm fallbacks, user code). Only this module may
write protocol lines, so at import it keeps a private handle on the real stdout and points
sys.stdout at stderr: a stray print becomes a log line instead of a malformed event.
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, Optional

# Nothing is ever downloaded at run time: base models are local folders from the catalog.
for _k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "DIFFUSERS_OFFLINE"):
    os.environ[_k] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
sys.stdout = sys.stderr
_lock = threading.Lock()


def _finite(values: Dict[str, Any]) -> Dict[str, float]:
    """The worker drops events with non-finite numbers; drop just the bad values instead."""
    out: Dict[str, float] = {}
    for k, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[str(k)] = f
    return out


def emit(event: Dict[str, Any]) -> None:
    line = json.dumps(event, separators=(",", ":"), allow_nan=False)
    with _lock:
        try:
            _out.write(line + "\n")
            _out.flush()
        except BrokenPipeError:
            # The worker is gone: nobody will read what we produce.
            os._exit(1)


def progress(step: int, total_steps: int, epoch: Optional[float] = None, total_epochs: Optional[int] = None) -> None:
    e: Dict[str, Any] = {"type": "progress", "step": int(step), "total_steps": max(1, int(total_steps))}
    if epoch is not None:
        e["epoch"] = float(epoch)
    if total_epochs is not None:
        e["total_epochs"] = int(total_epochs)
    emit(e)


def metrics(step: int, values: Dict[str, Any], epoch: Optional[float] = None) -> None:
    vals = _finite(values)
    if not vals:
        return
    e: Dict[str, Any] = {"type": "metrics", "step": int(step), "values": vals}
    if epoch is not None:
        e["epoch"] = float(epoch)
    emit(e)


def log(message: str, level: str = "info") -> None:
    emit({"type": "log", "level": level, "message": str(message)[:60000]})


def checkpoint(step: int, path: str) -> None:
    emit({"type": "checkpoint", "step": int(step), "path": path})


def artifact(name: str, path: str, fmt: str) -> None:
    emit({"type": "artifact", "name": name, "path": path, "format": fmt})


def sample(step: int, prompt: str, path: str) -> None:
    """A sample image rendered during training (a PNG, JPEG or WebP file in output_dir or checkpoint_dir)."""
    emit({"type": "sample", "step": int(step), "prompt": str(prompt)[:2000], "path": path})


def result(values: Dict[str, Any], details: Optional[Dict[str, Any]] = None) -> None:
    e: Dict[str, Any] = {"type": "result", "metrics": _finite(values)}
    if details is not None:
        e["details"] = details
    emit(e)


class TrainerError(Exception):
    """A failure the user can act on (bad data, a base model of the wrong kind): logged as the job's error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def fail(message: str, code: str = "TRAINER_FAILED") -> None:
    log(f"{code}: {message}" if code != "TRAINER_FAILED" else message, "error")
    sys.exit(1)


def load_spec(argv: Optional[list] = None) -> Dict[str, Any]:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--spec" not in args or args.index("--spec") + 1 >= len(args):
        fail("usage: python -m trainyard_<pack> --spec <job.json>")
    with open(args[args.index("--spec") + 1], "r", encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("protocol") != 1:
        fail(f"unsupported protocol version {spec.get('protocol')!r} (this pack speaks 1)")
    return spec


class StopFlag:
    """
    SIGTERM sets a flag the training loop checks between steps, so the trainer can write a
    checkpoint and exit cleanly; a second SIGTERM exits at once. A watchdog thread exits when
    the worker that started us dies (the parent changes), so no orphan keeps a GPU busy.
    """

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._on_term)
        self._parent = os.getppid()
        threading.Thread(target=self._watch_parent, daemon=True).start()

    def _on_term(self, _signum, _frame) -> None:
        if self.requested:
            os._exit(143)
        self.requested = True
        # Not log() here: the handler runs on the main thread, which may be inside emit()
        # holding the lock; a thread waits for the lock instead of deadlocking on it.
        threading.Thread(target=log, args=("stop requested: finishing the current step", "warn"), daemon=True).start()

    def _watch_parent(self) -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != self._parent:
                os._exit(1)


def main_guard(run) -> None:
    """Runs a trainer's main, turning TrainerError into a clean error line and exit code 1."""
    try:
        run()
    except TrainerError as e:
        fail(str(e), e.code)
    except KeyboardInterrupt:
        sys.exit(130)
