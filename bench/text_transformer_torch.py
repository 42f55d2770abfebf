"""PyTorch twin of the text-classifier's transformer (src/trainers/builtin/text-classifier/transformer.ts),
for bench/text-transformer-vs-torch.ts: the same network (token embedding x sqrt(d) + sinusoidal
positions, pre-LN blocks of multi-head self-attention without biases and a ReLU feed-forward, final
layer norm, mean over the real tokens, dropout, linear), the same Adam, the same batches in the same
order (each epoch's, read from the file the TypeScript side wrote: the trainer's own length-bucketed
batches), padded per batch to its longest text, and the validation pass every epoch.

    python bench/text_transformer_torch.py --data FILE --threads 1

Prints one JSON line: seconds per epoch and the mean loss of each epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sinusoids(max_len: int, d: int) -> torch.Tensor:
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float32)
    angle = pos / torch.pow(10000.0, i / d)
    out = torch.zeros(max_len, d)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle)
    return out


class Block(nn.Module):
    def __init__(self, d: int, heads: int, ff: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        B, L, d = x.shape
        h = self.ln1(x)
        split = lambda t: t.view(B, L, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        att = F.scaled_dot_product_attention(split(self.q(h)), split(self.k(h)), split(self.v(h)), attn_mask=key_mask)
        x = x + self.o(att.transpose(1, 2).reshape(B, L, d))
        return x + self.ff2(F.relu(self.ff1(self.ln2(x))))


class Transformer(nn.Module):
    def __init__(self, vocab: int, classes: int, d: int, heads: int, layers: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.d = d
        self.emb = nn.Embedding(vocab, d)
        nn.init.uniform_(self.emb.weight, -math.sqrt(3 / d), math.sqrt(3 / d))
        self.register_buffer("pos", sinusoids(4096, d))
        self.blocks = nn.ModuleList(Block(d, heads, ff) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(d, classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        B, L = ids.shape
        real = torch.arange(L)[None, :] < lengths[:, None]  # [B, L]
        x = self.emb(ids) * math.sqrt(self.d) + self.pos[:L]
        key_mask = real[:, None, None, :]  # True = may attend
        for blk in self.blocks:
            x = blk(x, key_mask)
        x = self.ln(x)
        pooled = (x * real[..., None]).sum(1) / lengths[:, None]
        return self.out(self.drop(pooled))


def padded(texts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(t) for t in texts])
    ids = torch.zeros(len(texts), int(lengths.max()), dtype=torch.long)
    for i, t in enumerate(texts):
        ids[i, : len(t)] = torch.tensor(t)
    return ids, lengths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    spec = json.load(open(a.data))
    c = spec["config"]
    model = Transformer(c["vocab"], c["classes"], c["dim"], c["heads"], c["layers"], c["ff"], c["dropout"])
    opt = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"])
    train, train_y = spec["train"], torch.tensor(spec["train_labels"])
    # Validation as the trainer scores it: every epoch, no dropout, batches of 64 texts of similar length.
    val = sorted(range(len(spec["val"])), key=lambda i: len(spec["val"][i]))
    val_batches = [padded([spec["val"][i] for i in val[s : s + 64]]) for s in range(0, len(val), 64)]
    times, losses = [], []
    for epoch in spec["epochs"]:
        t0 = time.perf_counter()
        model.train()
        total = 0.0
        for rows in epoch:
            ids, lengths = padded([train[r] for r in rows])
            y = train_y[rows]
            loss = F.cross_entropy(model(ids, lengths), y, reduction="sum")
            opt.zero_grad(set_to_none=True)
            (loss / len(y)).backward()
            opt.step()
            total += float(loss)  # read back every batch, as the trainer reports its loss
        model.eval()
        with torch.no_grad():
            for ids, lengths in val_batches:
                torch.softmax(model(ids, lengths), -1)
        times.append(time.perf_counter() - t0)
        losses.append(total / len(train))
    print(json.dumps({"seconds_per_epoch": times, "loss": losses, "torch": torch.__version__, "threads": a.threads}))


if __name__ == "__main__":
    main()
