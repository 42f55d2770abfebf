"""Seeds, devices and single-file checkpoints shared by the PyTorch packs."""
from __future__ import annotations

import glob
import os
import random
import re
from typing import Any, Dict, Optional

import numpy as np
import torch

from . import protocol as tp


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def save_checkpoint(spec: Dict[str, Any], step: int, state: Dict[str, Any], keep: int = 2) -> str:
    """
    One file per checkpoint (torch.save of adapter weights, optimizer, scheduler and RNG states):
    the worker uploads single files, so a retry on another worker can resume from it. Written
    to a temporary name and renamed, so a kill mid-write never leaves a torn checkpoint.
    """
    d = spec["checkpoint_dir"]
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"checkpoint-{step:08d}.pt")
    tmp = path + ".tmp"
    state = {**state, "step": step, "rng": {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }}
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in sorted(glob.glob(os.path.join(d, "checkpoint-*.pt")))[:-keep]:
        try:
            os.remove(old)
        except OSError:
            pass
    tp.checkpoint(step, path)
    return path


def load_resume(spec: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The checkpoint to resume from: the worker's (another attempt) or the newest in checkpoint_dir."""
    candidates = []
    if spec.get("resume_from"):
        candidates.append(spec["resume_from"])
    candidates += sorted(glob.glob(os.path.join(spec["checkpoint_dir"], "checkpoint-*.pt")), reverse=True)
    for path in candidates:
        if not os.path.isfile(path):
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # a torn or foreign file: try the next one
            tp.log(f"ignoring unreadable checkpoint {os.path.basename(path)}: {e}", "warn")
            continue
        rng = state.get("rng") or {}
        if rng.get("python") is not None:
            random.setstate(rng["python"])
        if rng.get("numpy") is not None:
            np.random.set_state(rng["numpy"])
        if rng.get("torch") is not None:
            torch.set_rng_state(rng["torch"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        tp.log(f"resumed from step {state['step']} ({os.path.basename(path)})")
        return state
    return None


def step_of(path: str) -> int:
    m = re.search(r"checkpoint-(\d+)\.pt$", path)
    return int(m.group(1)) if m else -1


def base_model_path(spec: Dict[str, Any]) -> str:
    bm = spec.get("base_model") or {}
    p = bm.get("path")
    if not p:
        raise tp.TrainerError("BASE_MODEL_REQUIRED", "this trainer needs a base model with a local path")
    if not os.path.isdir(p):
        raise tp.TrainerError("BASE_MODEL_MISSING", f"base model {bm.get('id')} is not at {p}")
    return p


def write_model_card(path: str, title: str, spec: Dict[str, Any], metrics: Dict[str, Any], usage: str = "") -> None:
    hp = "\n".join(f"| {k} | {v} |" for k, v in sorted(spec.get("hyperparameters", {}).items()))
    ms = "\n".join(f"| {k} | {v:.6g} |" for k, v in sorted(metrics.items()) if isinstance(v, (int, float)))
    bm = (spec.get("base_model") or {}).get("id", "none")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# {title}\n\nTrained by Trainyard job `{spec['job_id']}` with the `{spec['trainer']}` trainer "
                f"on base model `{bm}`.\n\n## Hyperparameters\n\n| name | value |\n|---|---|\n{hp}\n\n"
                f"## Metrics\n\n| name | value |\n|---|---|\n{ms}\n")
        if usage:
            f.write(f"\n## Usage\n\n{usage}\n")
