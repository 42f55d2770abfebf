"""sequence-classifier rows: seconds per epoch on CUDA against the CPU, for the PyTorch models of the
sequence-classifier's architectures (bench/eeg_torch.py's reference loop: batch 32, Adam, class-
weighted cross-entropy plus the L1/L2 penalties, a validation pass per epoch) on synthetic windows
of the eeg sample's shape (32 steps x 5 features, 3 classes).

`train_epochs` is the one place that trains: once the torch backend of the sequence-classifier is
merged, point it at that backend's training function so these rows measure the trainer itself."""
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


class Original(nn.Module):
    """flatten → dense 64 relu → dropout → dense 32 relu → dense (the 'original' architecture)."""

    def __init__(self) -> None:
        super().__init__()
        self.d1, self.d2, self.out, self.drop = nn.Linear(L * NF, 64), nn.Linear(64, 32), nn.Linear(32, NC), nn.Dropout(HP["dropout_rate"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.d2(self.drop(F.relu(self.d1(x.flatten(1)))))))

    def regularized(self) -> List[torch.Tensor]:
        return [self.d1.weight, self.d2.weight, self.out.weight]


class EnhancedCnnLstm(nn.Module):
    """Two separable conv blocks, max-pool 2, dropout, LSTM 16, dropout, dense ('enhanced_cnn_lstm', use_separable default)."""

    def __init__(self) -> None:
        super().__init__()
        self.dw1, self.pw1 = nn.Conv1d(NF, NF, 3, padding=1, groups=NF, bias=False), nn.Conv1d(NF, 16, 1)
        self.dw2, self.pw2 = nn.Conv1d(16, 16, 3, padding=1, groups=16, bias=False), nn.Conv1d(16, 16, 1)
        self.lstm, self.out, self.drop = nn.LSTM(16, 16, batch_first=True), nn.Linear(16, NC), nn.Dropout(HP["dropout_rate"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.pw2(self.dw2(F.relu(self.pw1(self.dw1(x.transpose(1, 2)))))))
        _, (h, _) = self.lstm(self.drop(F.max_pool1d(x, 2)).transpose(1, 2))
        return self.out(self.drop(h[0]))

    def regularized(self) -> List[torch.Tensor]:
        return [self.dw1.weight, self.pw1.weight, self.dw2.weight, self.pw2.weight, self.lstm.weight_ih_l0, self.out.weight]


ARCHS: Dict[str, Callable[[], nn.Module]] = {"original": Original, "enhanced_cnn_lstm": EnhancedCnnLstm}


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
            loss = F.cross_entropy(model(x[idx]), y[idx], weight=weights)
            loss = loss + sum(HP["l1_reg"] * w.abs().sum() + HP["l2_reg"] * w.square().sum() for w in model.regularized())
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

