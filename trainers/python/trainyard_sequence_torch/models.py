"""
The four sequence-classifier architectures (models.ts) in PyTorch, each with the map between
its parameters and the tfjs model's weight list (model.getWeights() order, tfjs shapes), so the
TypeScript side hands over its initial weights and takes the trained ones back.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# tfjs shape → torch shape, and back: each parameter's layout conversion.
Layout = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
SAME: Layout = (lambda a: a, lambda a: a)
DENSE: Layout = (lambda a: a.T, lambda a: a.T)  # Dense kernel [in, out] ↔ Linear weight [out, in]
CONV: Layout = (lambda a: a.transpose(2, 1, 0), lambda a: a.transpose(2, 1, 0))  # [k, in, out] ↔ [out, in, k]
DEPTHWISE: Layout = (lambda a: a.T[:, None, :], lambda a: a[:, 0, :].T)  # [k, C] ↔ [C, 1, k]
FLAT: Layout = (lambda a: a.reshape(-1), lambda a: a.reshape(-1, 1))  # LSTM bias [4u, 1] ↔ [4u]

# tf.layers.layerNormalization's default epsilon (torch's is 1e-5).
TFJS_LN_EPS = 1e-3


class Arch(nn.Module):
    """A model plus its tfjs weight map: `mapping` lists (parameter, layout) in tfjs order."""

    mapping: list[tuple[nn.Parameter, Layout]]
    regularized: list[nn.Parameter]

    def load_tfjs(self, arrays: list[np.ndarray]) -> None:
        if len(arrays) != len(self.mapping):
            raise ValueError(f"{len(arrays)} tfjs weights for {len(self.mapping)} torch parameters")
        with torch.no_grad():
            for (p, (to_torch, _)), a in zip(self.mapping, arrays):
                v = np.ascontiguousarray(to_torch(a))
                if tuple(p.shape) != v.shape:
                    raise ValueError(f"tfjs weight of shape {a.shape} for a torch parameter of {tuple(p.shape)}")
                p.copy_(torch.from_numpy(v))

    def to_tfjs(self, tensors: list[torch.Tensor] | None = None) -> list[np.ndarray]:
        """The parameters (or same-shaped tensors, e.g. Adam's moments) in the tfjs layout."""
        ts = tensors if tensors is not None else [p for p, _ in self.mapping]
        return [np.ascontiguousarray(back(t.detach().float().cpu().numpy())) for t, (_, (_, back)) in zip(ts, self.mapping)]

    def tfjs_to_torch(self, arrays: list[np.ndarray]) -> list[torch.Tensor]:
        return [torch.from_numpy(np.ascontiguousarray(to(a))) for a, (_, (to, _)) in zip(arrays, self.mapping)]


def _lstm(units_in: int) -> nn.LSTM:
    lstm = nn.LSTM(units_in, 16, batch_first=True)
    # The trainer's LSTM has one bias vector; torch's has two that receive the same gradient,
    # which under Adam would move the bias about twice as fast. Frozen at 0, the pair is the
    # trainer's single bias. Its kernel is already [4·units × in] in torch's gate order (i, f, g, o).
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
    lstm.bias_hh_l0.requires_grad_(False)
    return lstm


class Original(Arch):
    """flatten → dense 64 relu → dropout → dense 32 relu → dense softmax."""

    def __init__(self, L: int, nf: int, nc: int, rate: float) -> None:
        super().__init__()
        self.d1, self.d2, self.out = nn.Linear(L * nf, 64), nn.Linear(64, 32), nn.Linear(32, nc)
        self.drop = nn.Dropout(rate)
        self.mapping = [(self.d1.weight, DENSE), (self.d1.bias, SAME), (self.d2.weight, DENSE), (self.d2.bias, SAME), (self.out.weight, DENSE), (self.out.bias, SAME)]
        self.regularized = [self.d1.weight, self.d2.weight, self.out.weight]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(F.relu(self.d1(x.reshape(x.shape[0], -1))))
        return F.softmax(self.out(F.relu(self.d2(x))), dim=-1)


class EnhancedCnnLstm(Arch):
    """Two conv blocks (separable: depthwise k3 without bias → pointwise k1 → relu), max-pool 2, dropout, LSTM 16, dropout, dense softmax."""

    def __init__(self, L: int, nf: int, nc: int, rate: float, separable: bool) -> None:
        super().__init__()
        self.separable = separable
        if separable:
            self.dw1 = nn.Conv1d(nf, nf, 3, padding=1, groups=nf, bias=False)
            self.pw1 = nn.Conv1d(nf, 16, 1)
            self.dw2 = nn.Conv1d(16, 16, 3, padding=1, groups=16, bias=False)
            self.pw2 = nn.Conv1d(16, 16, 1)
            convs = [(self.dw1.weight, DEPTHWISE), (self.pw1.weight, CONV), (self.pw1.bias, SAME), (self.dw2.weight, DEPTHWISE), (self.pw2.weight, CONV), (self.pw2.bias, SAME)]
            self.regularized = [self.dw1.weight, self.pw1.weight, self.dw2.weight, self.pw2.weight]
        else:
            self.c1 = nn.Conv1d(nf, 16, 3, padding=1)
            self.c2 = nn.Conv1d(16, 16, 3, padding=1)
            convs = [(self.c1.weight, CONV), (self.c1.bias, SAME), (self.c2.weight, CONV), (self.c2.bias, SAME)]
            self.regularized = [self.c1.weight, self.c2.weight]
        self.pool = nn.MaxPool1d(2) if L >= 4 else nn.Identity()
        self.lstm = _lstm(16)
        self.out = nn.Linear(16, nc)
        self.drop = nn.Dropout(rate)
        self.mapping = [*convs, (self.lstm.weight_ih_l0, SAME), (self.lstm.weight_hh_l0, SAME), (self.lstm.bias_ih_l0, FLAT), (self.out.weight, DENSE), (self.out.bias, SAME)]
        self.regularized += [self.lstm.weight_ih_l0, self.out.weight]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # [B, L, F] → [B, F, L], torch's Conv1d layout
        if self.separable:
            x = F.relu(self.pw2(self.dw2(F.relu(self.pw1(self.dw1(x))))))
        else:
            x = F.relu(self.c2(F.relu(self.c1(x))))
        x = self.drop(self.pool(x))
        _, (h, _) = self.lstm(x.transpose(1, 2))
        return F.softmax(self.out(self.drop(h[0])), dim=-1)


class ResnetLstm(Arch):
    """conv 16 relu, two residual blocks (conv relu → conv, add, relu), max-pool 2, dropout, LSTM 16, dropout, dense softmax."""

    def __init__(self, L: int, nf: int, nc: int, rate: float) -> None:
        super().__init__()
        self.c0 = nn.Conv1d(nf, 16, 3, padding=1)
        self.blocks = nn.ModuleList([nn.ModuleList([nn.Conv1d(16, 16, 3, padding=1), nn.Conv1d(16, 16, 3, padding=1)]) for _ in range(2)])
        self.pool = nn.MaxPool1d(2) if L >= 4 else nn.Identity()
        self.lstm = _lstm(16)
        self.out = nn.Linear(16, nc)
        self.drop = nn.Dropout(rate)
        convs = [self.c0, *(c for b in self.blocks for c in b)]
        self.mapping = [m for c in convs for m in ((c.weight, CONV), (c.bias, SAME))]
        self.mapping += [(self.lstm.weight_ih_l0, SAME), (self.lstm.weight_hh_l0, SAME), (self.lstm.bias_ih_l0, FLAT), (self.out.weight, DENSE), (self.out.bias, SAME)]
        self.regularized = [c.weight for c in convs] + [self.lstm.weight_ih_l0, self.out.weight]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.c0(x.transpose(1, 2)))
        for a, b in self.blocks:
            x = F.relu(x + b(F.relu(a(x))))
        x = self.drop(self.pool(x))
        _, (h, _) = self.lstm(x.transpose(1, 2))
        return F.softmax(self.out(self.drop(h[0])), dim=-1)


class Transformer(Arch):
    """
    dense 16 per step + sinusoidal codes, one block of 2-head self-attention (relative position
    bias optional) and a feed-forward 32 → 16, each residual + layer norm, global average pool,
    dropout, dense softmax. The attention keeps layers.ts's per-head weight layout [heads × …].
    """

    def __init__(self, L: int, nf: int, nc: int, rate: float, relative: bool) -> None:
        super().__init__()
        width, heads = 16, 2
        dh = width // heads
        self.heads, self.dh, self.L = heads, dh, L
        self.proj = nn.Linear(nf, width)
        # layers.ts's initializer (Glorot's limit of the full projection); the trainer loads the tfjs model's values over these.
        limit = math.sqrt(6 / (width + width))
        self.wq, self.wk, self.wv = (nn.Parameter(torch.empty(heads, width, dh).uniform_(-limit, limit)) for _ in range(3))
        self.wo = nn.Parameter(torch.empty(heads, dh, width).uniform_(-limit, limit))
        self.bo = nn.Parameter(torch.zeros(width))
        self.rel = nn.Parameter(torch.zeros(heads, 2 * L - 1)) if relative else None
        self.ln1, self.ln2 = nn.LayerNorm(width, eps=TFJS_LN_EPS), nn.LayerNorm(width, eps=TFJS_LN_EPS)
        self.ff1, self.ff2 = nn.Linear(width, 2 * width), nn.Linear(2 * width, width)
        self.out = nn.Linear(width, nc)
        self.drop = nn.Dropout(rate)
        t = torch.arange(L, dtype=torch.float64)[:, None]
        i = torch.arange(width)
        angle = t / torch.pow(10000.0, (2 * (i // 2)).double() / width)
        self.register_buffer("codes", torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float(), persistent=False)
        offsets = torch.arange(L)[None, :] - torch.arange(L)[:, None] + L - 1
        self.register_buffer("offsets", offsets, persistent=False)
        attn = [(self.wq, SAME), (self.wk, SAME), (self.wv, SAME), (self.wo, SAME), (self.bo, SAME)] + ([(self.rel, SAME)] if self.rel is not None else [])
        self.mapping = [
            (self.proj.weight, DENSE), (self.proj.bias, SAME), *attn,
            (self.ln1.weight, SAME), (self.ln1.bias, SAME),
            (self.ff1.weight, DENSE), (self.ff1.bias, SAME), (self.ff2.weight, DENSE), (self.ff2.bias, SAME),
            (self.ln2.weight, SAME), (self.ln2.bias, SAME),
            (self.out.weight, DENSE), (self.out.bias, SAME),
        ]  # fmt: skip
        self.regularized = [self.proj.weight, self.wq, self.wk, self.wv, self.wo, self.ff1.weight, self.ff2.weight, self.out.weight]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x) + self.codes
        q, k, v = (torch.einsum("bld,hde->bhle", x, w) for w in (self.wq, self.wk, self.wv))
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        if self.rel is not None:
            logits = logits + self.rel[:, self.offsets]
        context = torch.softmax(logits, dim=-1) @ v
        attended = torch.einsum("bhle,hed->bld", context, self.wo) + self.bo
        x = self.ln1(x + self.drop(attended))
        x = self.ln2(x + self.drop(self.ff2(F.relu(self.ff1(x)))))
        return F.softmax(self.out(self.drop(x.mean(dim=1))), dim=-1)


def build(job: dict) -> Arch:
    L, nf, nc, rate = job["sequence_length"], job["features"], job["classes"], job["dropout"]
    arch = job["arch"]
    if arch == "original":
        return Original(L, nf, nc, rate)
    if arch == "enhanced_cnn_lstm":
        return EnhancedCnnLstm(L, nf, nc, rate, bool(job["use_separable"]))
    if arch == "resnet_lstm":
        return ResnetLstm(L, nf, nc, rate)
    if arch == "transformer":
        return Transformer(L, nf, nc, rate, bool(job["use_relative_pos"]))
    raise ValueError(f"unknown architecture {arch!r}")
