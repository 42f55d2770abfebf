"""
What the built-in trainers' PyTorch loops share (trainyard_sequence_torch, trainyard_text_torch):
the TypeScript trainer writes job.json and raw little-endian arrays into an exchange folder and
runs `python -m <loop> DIR` (src/trainers/builtin/torch-child.ts); the loop reads them, trains,
and writes arrays back there.
"""
from __future__ import annotations

import json
import os
import signal

import numpy as np


def start_loop(d: str):
    """job.json, a stop flag that SIGTERM sets, and the device, with torch's threads and seed set. Imports torch."""
    stop = {"requested": False}
    # SIGTERM (the job cancelled, or the worker stopping) only sets a flag: the loop stops
    # between batches and reports the state at the start of the epoch, for a checkpoint.
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    with open(os.path.join(d, "job.json")) as f:
        job = json.load(f)

    import torch

    want = job.get("device", "auto")
    device = torch.device("cuda" if want != "cpu" and torch.cuda.is_available() else "cpu")
    if want == "cuda" and device.type != "cuda":
        raise SystemExit("device cuda asked for, but torch sees no GPU")
    # One CPU thread unless told otherwise: these models are small, a second thread gains 1–20%
    # on a quiet machine, and on a busy one OpenMP's threads wait on each other: 2 threads ran a
    # sequence-classifier epoch 200× slower than quiet, where tfjs slowed 10× (bench/README.md).
    torch.set_num_threads(int(job.get("threads") or 1))
    torch.manual_seed(job["seed"])
    return job, stop, device


def write_flat(d: str, name: str, arrays) -> str:
    """Arrays or tensors, flattened and concatenated as little-endian float32 into DIR/name."""
    parts = [a.detach().float().cpu().numpy() if hasattr(a, "detach") else np.asarray(a) for a in arrays]
    np.concatenate([p.astype("<f4").reshape(-1) for p in parts]).tofile(os.path.join(d, name))
    return name
