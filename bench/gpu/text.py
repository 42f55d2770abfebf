"""text-classifier rows: seconds per epoch of the transformer's PyTorch loop on CUDA against the
CPU, with the backend's own model, optimizers and step (trainers/python/trainyard_text_torch:
dense Adam plus SparseAdam for the embedding) at the trainer's fixed size (dim 32, 2 heads, one
layer, ff 64, vocabulary 20,000, max_length 128), batches of 32 texts of similar length as the
trainer draws them, a validation pass per epoch. Synthetic texts: each class has its own 50 marker
tokens among common ones. Not the whole job (no tokenizer, no protocol): bench/text-transformer-
vs-torch.ts measures the backend through the API. The catalog keeps this trainer off GPUs until
this row shows the GPU pays (src/trainers/builtin/text-classifier/catalog.ts)."""
from __future__ import annotations

import math
import os
import statistics
import sys
import time
from typing import List, Tuple

from common import SIZES, Peak, sync, write_row

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "trainers", "python"))
from trainyard_text_torch.model import TextTransformer, optimizers, train_step  # noqa: E402

CONFIG = {"dim": 32, "heads": 2, "layers": 1, "ff": 64, "dropout": 0.1, "classes": 3, "vocab": 20_000}
MAX_LEN, BATCH, PREDICT_BATCH, LR = 128, 32, 256, 0.005


def build(seed: int = 0) -> TextTransformer:
    """The trainer's parameter list (transformer.ts), initialised as it does: uniform embedding, Glorot kernels."""
    d, ff, c, v = CONFIG["dim"], CONFIG["ff"], CONFIG["classes"], CONFIG["vocab"]
    shapes = {"embedding": [v, d]}
    for l in range(CONFIG["layers"]):
        for m in "qkvo":
            shapes[f"layer{l}.w{m}"] = [d, d]
        shapes.update({f"layer{l}.ln1_gamma": [d], f"layer{l}.ln1_beta": [d], f"layer{l}.ff1_kernel": [d, ff], f"layer{l}.ff1_bias": [ff],
                       f"layer{l}.ff2_kernel": [ff, d], f"layer{l}.ff2_bias": [d], f"layer{l}.ln2_gamma": [d], f"layer{l}.ln2_beta": [d]})
    shapes.update({"final_ln_gamma": [d], "final_ln_beta": [d], "output_kernel": [d, c], "output_bias": [c]})
    model = TextTransformer(CONFIG, list(shapes), list(shapes.values()))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.tensors.items():
            if name == "embedding":
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * math.sqrt(3 / d))
            elif "gamma" in name:
                p.fill_(1.0)
            elif len(p.shape) == 2:
                limit = math.sqrt(6 / (p.shape[0] + p.shape[1]))
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * limit)
    return model


def data(texts: int, seed: int = 42) -> Tuple[List[np.ndarray], np.ndarray]:
    """Token id lists of 8–128 tokens and their classes: a text holds a few of its class's markers."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CONFIG["classes"], texts)
    out = []
    for label in y:
        n = int(rng.integers(8, MAX_LEN + 1))
        ids = rng.integers(200, CONFIG["vocab"], n)
        marks = rng.integers(0, n, max(1, n // 10))
        ids[marks] = 50 * label + rng.integers(0, 50, len(marks)) + 1
        out.append(ids)
    return out, y


def batches(lengths: np.ndarray, rng: np.random.Generator) -> List[np.ndarray]:
    """Texts of similar length together (a batch pads to its longest), batches in random order, as the trainer draws them."""
    order = np.argsort(lengths + rng.random(len(lengths)), kind="stable")
    chunks = [order[s:s + BATCH] for s in range(0, len(order), BATCH)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def padded(texts: List[np.ndarray], rows: np.ndarray, dev: torch.device):
    lengths = np.array([len(texts[r]) for r in rows])
    ids = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :lengths[i]] = texts[r]
    return torch.from_numpy(ids).to(dev), torch.from_numpy(lengths).to(dev)


def train_epochs(dev: torch.device, texts, y, epochs: int) -> List[float]:
    cut = int(len(texts) * 0.8)
    train, val = texts[:cut], texts[cut:]
    yt = torch.from_numpy(y[:cut]).to(dev)
    model = build().to(dev)
    opts = optimizers(model, LR)
    rng = np.random.default_rng(0)
    lengths = np.array([len(t) for t in train])
    val_order = np.argsort([len(t) for t in val], kind="stable")
    out = []
    for _ in range(epochs):
        sync(dev)
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        for rows in batches(lengths, rng):
            ids, lens = padded(train, rows, dev)
            loss, _ = train_step(model, opts, ids, lens, yt[torch.from_numpy(rows).to(dev)])
            loss_sum += loss.detach()
        float(loss_sum)  # the backend reads the loss back once per epoch
        model.eval()
        with torch.no_grad():
            probs = [torch.softmax(model(*padded(val, val_order[s:s + PREDICT_BATCH], dev)), -1) for s in range(0, len(val), PREDICT_BATCH)]
            torch.cat(probs).float().cpu().numpy()  # the validation probabilities go back to the trainer
        sync(dev)
        out.append(time.perf_counter() - t0)
    return out


def rows(size: str, folder: str, out: str) -> None:
    """Writes one row file per device: OUT with '-<device>' before '.json'."""
    s = SIZES[size]
    texts, y = data(s["text_texts"])
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for dev in devices:
        peak = Peak(dev)
        peak.reset()
        times = train_epochs(dev, texts, y, s["text_epochs"])
        later = times[1:] or times
        threads = f", {torch.get_num_threads()} threads" if dev.type == "cpu" else ""
        write_row(out.replace(".json", f"-{dev.type}.json"), "text-classifier", "transformer", dev.type, "epochs/s",
                  1 / statistics.median(later), peak, peak.mb(), s["text_epochs"],
                  f"{len(texts)} texts, {statistics.median(later):.3f} s/epoch{threads}")
