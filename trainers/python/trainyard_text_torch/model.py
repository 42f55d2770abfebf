"""
transformer.ts in PyTorch, parameter for parameter: the same names, shapes and layout as
weights.bin (kernels are [in, out], used as `x @ kernel`), so weights cross between the two
without a map. Token embedding × √d + sinusoidal positions → pre-LN blocks of multi-head
self-attention (no biases) and a ReLU feed-forward → final layer norm → mean over the real
tokens → dropout → linear.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-5
# model.ts AdamParam's.
BETAS = (0.9, 0.999)
EPS = 1e-8


def sinusoids(max_len: int, d: int) -> torch.Tensor:
    """transformer.ts sinusoids(): sin on even, cos on odd features, 10000^(i/d) with i the even index."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i / d)
    out = torch.zeros(max_len, d, dtype=torch.float64)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle)[:, : d // 2]
    return out.float()


class TextTransformer(nn.Module):
    def __init__(self, config: dict, names: list[str], shapes: list[list[int]]) -> None:
        super().__init__()
        self.d, self.heads, self.layers = int(config["dim"]), int(config["heads"]), int(config["layers"])
        self.dropout = float(config["dropout"])
        self.names = names
        # Registered under names without dots (nn.Module's rule); `tensors` maps the weights.bin names.
        self.tensors: dict[str, nn.Parameter] = {}
        for name, shape in zip(names, shapes):
            p = nn.Parameter(torch.zeros(shape))
            self.register_parameter(name.replace(".", "__"), p)
            self.tensors[name] = p
        self.register_buffer("pos", sinusoids(4096, self.d), persistent=False)

    def dense(self) -> list[nn.Parameter]:
        return [self.tensors[n] for n in self.names if n != "embedding"]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits [B, classes] of a padded batch: ids [B, L] (padding ignored), lengths [B]."""
        B, L = ids.shape
        d, H = self.d, self.heads
        w = self.tensors
        real = torch.arange(L, device=ids.device)[None, :] < lengths[:, None]
        # Only the real tokens are looked up: padding neither reads nor (sparse Adam) touches a row.
        e = F.embedding(ids[real], w["embedding"], sparse=True) * math.sqrt(d) + self.pos[:L].expand(B, L, d)[real]
        x = torch.zeros(B, L, d, dtype=e.dtype, device=e.device).index_put((real,), e)
        mask = real[:, None, None, :]
        split = lambda t: t.view(B, L, H, d // H).transpose(1, 2)  # noqa: E731
        for l in range(self.layers):
            p = lambda n: w[f"layer{l}.{n}"]  # noqa: E731
            h = F.layer_norm(x, (d,), p("ln1_gamma"), p("ln1_beta"), LN_EPS)
            # SDPA scales by 1/√(d/H), as transformer.ts does by folding it into wq.
            att = F.scaled_dot_product_attention(split(h @ p("wq")), split(h @ p("wk")), split(h @ p("wv")), attn_mask=mask)
            x = x + att.transpose(1, 2).reshape(B, L, d) @ p("wo")
            h2 = F.layer_norm(x, (d,), p("ln2_gamma"), p("ln2_beta"), LN_EPS)
            x = x + F.relu(h2 @ p("ff1_kernel") + p("ff1_bias")) @ p("ff2_kernel") + p("ff2_bias")
        x = F.layer_norm(x, (d,), w["final_ln_gamma"], w["final_ln_beta"], LN_EPS)
        pooled = (x * real[..., None]).sum(1) / lengths[:, None].to(x.dtype)
        pooled = F.dropout(pooled, self.dropout, self.training)
        return pooled @ w["output_kernel"] + w["output_bias"]


def optimizers(model, lr: float) -> list:
    """Adam as model.ts AdamParam: dense for the network, lazy (SparseAdam: only the rows a batch used) for the embedding."""
    return [
        torch.optim.Adam(model.dense(), lr=lr, betas=BETAS, eps=EPS),
        torch.optim.SparseAdam([model.tensors["embedding"]], lr=lr, betas=BETAS, eps=EPS),
    ]


def train_step(model, opts: list, ids, lengths, y):
    """One optimizer step on a batch; returns the summed loss and the logits (both still on the device)."""
    logits = model(ids, lengths)
    loss = F.cross_entropy(logits, y, reduction="sum")
    for opt in opts:
        opt.zero_grad(set_to_none=True)
    # The mean's gradient, as transformer.ts divides the summed loss's by the batch size.
    (loss / y.shape[0]).backward()
    # SparseAdam adds ε to √v where AdamParam (and torch's Adam) add it to √(v / (1 − β₂ᵗ)):
    # scaled by √(1 − β₂ᵗ) of the coming step, the two are the same update.
    sparse = opts[1]
    t = sparse.state[model.tensors["embedding"]].get("step", 0) + 1
    sparse.param_groups[0]["eps"] = EPS * math.sqrt(1 - BETAS[1] ** t)
    for opt in opts:
        opt.step()
    return loss, logits
