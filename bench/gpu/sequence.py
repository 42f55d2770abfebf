"""sequence-classifier rows: seconds per epoch on CUDA against the CPU, for the torch backend's own
models of the four architectures (trainers/python/trainyard_sequence_torch/models.py) in the
backend's loop shape (batch 32, Adam, class-weighted cross-entropy on the models' probabilities
plus the L1/L2 penalties, the loss read back every batch, a validation pass per epoch), on
synthetic windows of the eeg sample's shape (32 steps x 5 features, 3 classes). Not the whole job
(no data preparation, no protocol): bench/eeg-torch-vs-ts.ts measures the backend through the API."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List

from common import SIZES, Peak, device, write_row

import torch
import torch.nn.functional as F
from torch import nn

L, NF, NC = 32, 5, 3
HP = {"batch_size": 32, "learning_rate": 1e-3, "dropout_rate": 0.3, "l1_reg": 1e-5, "l2_reg": 1e-4}


def _backend_models():
    """The torch backend's own models (trainers/python/trainyard_sequence_torch/models.py)."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "trainers", "python"))
    from trainyard_sequence_torch import models

    return models


def _build(arch: str) -> nn.Module:
    return _backend_models().build({"arch": arch, "sequence_length": L, "features": NF, "classes": NC,
                                    "dropout": HP["dropout_rate"], "use_separable": True, "use_relative_pos": True})


ARCHS: Dict[str, Callable[[], nn.Module]] = {a: (lambda a=a: _build(a)) for a in ("original", "enhanced_cnn_lstm", "resnet_lstm", "transformer")}


def data(windows: int, seed: int = 42):
    """Separable synthetic windows (class = which feature carries a slow sine), 80/20 split."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NC, (windows,), generator=g)
    x = torch.randn(windows, L, NF, generator=g) * 0.5
    x[torch.arange(windows), :, y] += torch.sin(torch.linspace(0, 6.28, L))
    cut = int(windows * 0.8)
    return x[:cut], y[:cut], x[cut:], y[cut:]


def train_epochs(arch: str, dev: torch.device, x, y, xv, yv, epochs: int) -> List[float]:
    """Seconds of each epoch (training plus validation), the loop of bench/eeg_torch.py."""
    torch.manual_seed(0)
    model = ARCHS[arch]().to(dev)
    x, y, xv, yv = x.to(dev), y.to(dev), xv.to(dev), yv.to(dev)
    weights = (len(y) / (NC * torch.bincount(y, minlength=NC).clamp(min=1).float())).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=HP["learning_rate"], eps=1e-7)
    bs, out = HP["batch_size"], []
    for _ in range(epochs):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(y), device=dev)
        for b in range(0, len(y), bs):
            idx = order[b:b + bs]
            p = model(x[idx]).clamp(1e-7, 1.0)  # probabilities, as the trainer's models answer
            loss = F.nll_loss(torch.log(p), y[idx], weight=weights)
            loss = loss + sum(HP["l1_reg"] * w.abs().sum() + HP["l2_reg"] * w.square().sum() for w in model.regularized)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()  # the trainer reads the loss back every batch
        model.eval()
        with torch.no_grad():
            float((torch.cat([model(xv[s:s + 512]) for s in range(0, len(yv), 512)]).argmax(-1) == yv).float().mean())
        out.append(time.perf_counter() - t0)

    return out


def rows(size: str, folder: str, out: str) -> None:
    """Writes one row file per arch and device: OUT with '-<arch>-<device>' before '.json'."""
    s = SIZES[size]
    x, y, xv, yv = data(s["seq_windows"])
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for arch in ARCHS:
        for dev in devices:
            peak = Peak(dev)
            peak.reset()
            times = train_epochs(arch, dev, x, y, xv, yv, s["seq_epochs"])
            later = times[1:] or times
            threads = f", {torch.get_num_threads()} threads" if dev.type == "cpu" else ""
            write_row(out.replace(".json", f"-{arch}-{dev.type}.json"), "sequence-classifier", arch,
                      dev.type, "epochs/s", 1 / statistics.median(later), peak, peak.mb(), s["seq_epochs"],
                      f"{len(y) + len(yv)} windows, {statistics.median(later):.3f} s/epoch{threads}")

