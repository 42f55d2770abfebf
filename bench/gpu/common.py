"""What every bench/gpu.sh row shares: the two sizes (GPU-real and CPU-tiny), peak memory, a step
clock, and the row record each row process writes for run.py to print.

Peak memory is torch.cuda.max_memory_allocated on CUDA (reset where the training starts, so the
figure is the training's, weights included) and the peak RSS on the CPU (reset the same way through
/proc/self/clear_refs, Linux only)."""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PACKS = os.path.join(ROOT, "trainers", "python")
if PACKS not in sys.path:
    sys.path.insert(0, PACKS)

import torch  # noqa: E402

# Llama-3.2-1B as published (config.json of meta-llama/Llama-3.2-1B): 1.24 B parameters, of which
# 263 M are the tied embeddings.
LLAMA_1B = dict(
    vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
    num_key_value_heads=8, head_dim=64, hidden_act="silu", max_position_embeddings=131072, rms_norm_eps=1e-5,
    tie_word_embeddings=True, initializer_range=0.02,
    rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
)
LLAMA_TINY = dict(
    vocab_size=1024, hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, head_dim=16, hidden_act="silu", max_position_embeddings=256, rms_norm_eps=1e-5,
    tie_word_embeddings=True, initializer_range=0.02, rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
)

SIZES: Dict[str, Dict[str, Any]] = {
    # One NVIDIA GPU, the whole script under 8 minutes.
    "gpu": {
        "llama": LLAMA_1B, "seq_len": 1024, "batch": 4, "conversations": 240, "words": (60, 700),
        "ablation_conversations": 96, "warmup_steps": 3,
        "unet": "sd15", "resolution": 512, "diffusion_steps": 30, "diffusion_warmup": 5,
        "seq_windows": 10547, "seq_epochs": 3,
        "text_texts": 10_000, "text_epochs": 3,
    },
    # The CPU smoke run (CI): the same code paths in seconds.
    "tiny": {
        "llama": LLAMA_TINY, "seq_len": 64, "batch": 4, "conversations": 24, "words": (5, 40),
        "ablation_conversations": 16, "warmup_steps": 1,
        "unet": "tiny", "resolution": 64, "diffusion_steps": 6, "diffusion_warmup": 2,
        "seq_windows": 640, "seq_epochs": 2,
        "text_texts": 400, "text_epochs": 2,
    },
}


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


class Peak:
    """Peak memory from reset() on: GPU bytes allocated by PyTorch, or the process's peak RSS."""

    def __init__(self, dev: torch.device) -> None:
        self.dev = dev

    def reset(self) -> None:
        if self.dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return
        try:  # "5" resets VmHWM, the peak RSS, to the current RSS
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def mb(self) -> float:
        if self.dev.type == "cuda":
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**20
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    @property
    def kind(self) -> str:
        return "cuda max_memory_allocated" if self.dev.type == "cuda" else "peak RSS"


class StepClock:
    """Times steps end to end (the GPU waited for at each mark); the first `warmup` steps
    (allocator, cuBLAS, compilation) are left out of the rate."""

    def __init__(self, dev: torch.device, warmup: int) -> None:
        self.dev, self.warmup = dev, warmup
        self.marks: List[float] = []
        self.work: List[float] = []  # tokens (or 1 per step) done in each step
        self.start: Optional[float] = None

    def begin(self) -> None:
        if self.start is None:
            sync(self.dev)
            self.start = time.perf_counter()

    def step(self, work: float = 1.0) -> None:
        sync(self.dev)
        self.marks.append(time.perf_counter())
        self.work.append(float(work))

    def rate(self) -> float:
        """Work per second over the steps after the warm-up, and before the last one when there are
        enough: a last, partial batch has other shapes (a recompilation under torch.compile)."""
        n = len(self.marks)
        end = n - 1 if n > self.warmup + 2 else n
        w = min(self.warmup, end - 1) if end > 1 else 0
        t0 = self.marks[w - 1] if w > 0 else self.start
        span = self.marks[end - 1] - t0
        return sum(self.work[w:end]) / span if span > 0 else 0.0


def write_row(out: str, bench: str, config: str, side: str, unit: str, rate: float, peak: Peak, peak_mb: float,
              steps: int, note: str = "") -> None:
    row = {"bench": bench, "config": config, "side": side, "unit": unit, "rate": rate, "peak_mb": peak_mb,
           "peak_kind": peak.kind, "steps": steps, "device": peak.dev.type, "note": note}
    with open(out, "w") as f:
        json.dump(row, f)
