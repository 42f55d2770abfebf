"""PyTorch twin of the TypeScript sequence-classifier training loop, for bench/eeg-torch-vs-ts.ts.

Reads what the TypeScript side prepared (eeg-torch-vs-ts.ts writes it): the standardized
windows and labels exactly as the trainer's prepare() produced them, the class weights, and,
per architecture, the initial weights of the tfjs model the trainer builds with the same seed,
plus reference outputs of that model. So both sides start from the same data and the same
weights, and the equivalence check below can compare them number for number.

    python bench/eeg_torch.py --data DIR --arch enhanced_cnn_lstm --epochs 3 --threads 1

Prints one JSON line on stdout. Run by the TypeScript bench, which sets OMP_NUM_THREADS too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np

EPS = 1e-7  # train.ts clips probabilities to [EPS, 1] before the log
M32 = 0xFFFFFFFF


class Rng:
    """runtime.ts's Rng, bit for bit, so each epoch visits the batches in the trainer's order."""

    def __init__(self, seed: int) -> None:
        self.state = seed & M32

    def next(self) -> float:
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & M32
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    def shuffle(self, items: list[int]) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = int(self.next() * (i + 1))
            items[i], items[j] = items[j], items[i]


def read(data_dir: str, desc: dict) -> np.ndarray:
    dtype = {"f32": "<f4", "i32": "<i4"}[desc["dtype"]]
    return np.fromfile(os.path.join(data_dir, desc["file"]), dtype=dtype).reshape(desc["shape"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--arch", required=True, choices=["original", "enhanced_cnn_lstm"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    # Before any op runs: the inter-op pool can only be sized once, and the default intra-op
    # pool would take every core, which is not the comparison asked for.
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    with open(os.path.join(args.data, "data.json")) as f:
        meta = json.load(f)
    with open(os.path.join(args.data, f"{args.arch}.json")) as f:
        ref = json.load(f)
    hyper = meta["hyper"]
    L, nf, nc = meta["sequence_length"], meta["features"], meta["classes"]
    x_train = torch.from_numpy(read(args.data, meta["train_x"]).copy())
    y_train = torch.from_numpy(read(args.data, meta["train_y"]).astype(np.int64))
    x_val = torch.from_numpy(read(args.data, meta["val_x"]).copy())
    y_val = read(args.data, meta["val_y"]).astype(np.int64)
    class_weights = torch.tensor(meta["class_weights"], dtype=torch.float32)
    l1, l2, rate = hyper["l1_reg"], hyper["l2_reg"], hyper["dropout_rate"]
    torch.manual_seed(hyper["seed"])

    class Original(nn.Module):
        """flatten → dense 64 relu → dropout → dense 32 relu → dense softmax (models.ts 'original')."""

        def __init__(self) -> None:
            super().__init__()
            self.d1 = nn.Linear(L * nf, 64)
            self.d2 = nn.Linear(64, 32)
            self.out = nn.Linear(32, nc)
            self.drop = nn.Dropout(rate)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.drop(F.relu(self.d1(x.reshape(x.shape[0], -1))))
            return F.softmax(self.out(F.relu(self.d2(x))), dim=-1)

        def regularized(self) -> list[torch.Tensor]:
            return [self.d1.weight, self.d2.weight, self.out.weight]

        def load_tfjs(self, w: list[np.ndarray]) -> list[torch.Tensor]:
            # tfjs Dense kernels are [in, out]; torch Linear weights [out, in].
            return [w[0].T, w[1], w[2].T, w[3], w[4].T, w[5]]

        def tfjs_order(self) -> list[torch.Tensor]:
            return [self.d1.weight, self.d1.bias, self.d2.weight, self.d2.bias, self.out.weight, self.out.bias]

    class EnhancedCnnLstm(nn.Module):
        """
        Two blocks (separable: depthwise conv k3 without bias → pointwise conv k1 → relu; or a
        plain conv k3 → relu), max-pool 2, dropout, LSTM 16 returning the last hidden state,
        dropout, dense softmax (models.ts 'enhanced_cnn_lstm').
        """

        def __init__(self, separable: bool) -> None:
            super().__init__()
            self.separable = separable
            if separable:
                self.dw1 = nn.Conv1d(nf, nf, 3, padding=1, groups=nf, bias=False)
                self.pw1 = nn.Conv1d(nf, 16, 1)
                self.dw2 = nn.Conv1d(16, 16, 3, padding=1, groups=16, bias=False)
                self.pw2 = nn.Conv1d(16, 16, 1)
            else:
                self.c1 = nn.Conv1d(nf, 16, 3, padding=1)
                self.c2 = nn.Conv1d(16, 16, 3, padding=1)
            self.pool = nn.MaxPool1d(2) if L >= 4 else nn.Identity()
            self.lstm = nn.LSTM(16, 16, batch_first=True)
            # The trainer's LSTM has one bias vector; torch's has two that receive the same
            # gradient, which under Adam would move the bias about twice as fast. Frozen at 0,
            # the pair is the trainer's single bias.
            with torch.no_grad():
                self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_hh_l0.requires_grad_(False)
            self.out = nn.Linear(16, nc)
            self.drop = nn.Dropout(rate)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.transpose(1, 2)  # [B, L, F] → [B, F, L], torch's Conv1d layout
            if self.separable:
                x = F.relu(self.pw2(self.dw2(F.relu(self.pw1(self.dw1(x))))))
            else:
                x = F.relu(self.c2(F.relu(self.c1(x))))
            x = self.drop(self.pool(x))
            _, (h, _) = self.lstm(x.transpose(1, 2))
            return F.softmax(self.out(self.drop(h[0])), dim=-1)

        def regularized(self) -> list[torch.Tensor]:
            convs = [self.dw1.weight, self.pw1.weight, self.dw2.weight, self.pw2.weight] if self.separable else [self.c1.weight, self.c2.weight]
            return [*convs, self.lstm.weight_ih_l0, self.out.weight]

        def load_tfjs(self, w: list[np.ndarray]) -> list[torch.Tensor]:
            # Depthwise kernel [k, C] → [C, 1, k]; conv kernel [k, in, out] → [out, in, k].
            # The trainer's LSTM already stores [4·units × in] in torch's gate order (i, f, g, o).
            if self.separable:
                convs = [w[0].T[:, None, :], w[1].transpose(2, 1, 0), w[2], w[3].T[:, None, :], w[4].transpose(2, 1, 0), w[5]]
                rest = w[6:]
            else:
                convs = [w[0].transpose(2, 1, 0), w[1], w[2].transpose(2, 1, 0), w[3]]
                rest = w[4:]
            return [*convs, rest[0], rest[1], rest[2].reshape(-1), rest[3].T, rest[4]]

        def tfjs_order(self) -> list[torch.Tensor]:
            convs = [self.dw1.weight, self.pw1.weight, self.pw1.bias, self.dw2.weight, self.pw2.weight, self.pw2.bias] if self.separable else [self.c1.weight, self.c1.bias, self.c2.weight, self.c2.bias]
            return [*convs, self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.lstm.bias_ih_l0, self.out.weight, self.out.bias]

    model: nn.Module = Original() if args.arch == "original" else EnhancedCnnLstm(bool(hyper["use_separable"]))

    def tfjs_arrays(file: str) -> list[np.ndarray]:
        flat = np.fromfile(os.path.join(args.data, file), dtype="<f4")
        out, at = [], 0
        for w in ref["weights"]:
            size = int(np.prod(w["shape"])) if w["shape"] else 1
            out.append(flat[at : at + size].reshape(w["shape"]))
            at += size
        assert at == flat.size, f"{file}: {flat.size} floats, the weight list accounts for {at}"
        return out

    params = model.tfjs_order()
    init = model.load_tfjs(tfjs_arrays(ref["weights_file"]))
    assert len(params) == len(init), f"{len(init)} tfjs weights for {len(params)} torch parameters"
    with torch.no_grad():
        for p, v in zip(params, init):
            assert tuple(p.shape) == v.shape, f"shape {v.shape} from tfjs for a torch parameter of {tuple(p.shape)}"
            p.copy_(torch.from_numpy(np.ascontiguousarray(v)))
    trainable = [p for p in model.parameters() if p.requires_grad]

    def penalty() -> torch.Tensor:
        # tf.regularizers.l1l2: l1·Σ|w| + l2·Σw², added to the batch loss (not Adam's weight decay).
        return sum(l1 * w.abs().sum() + l2 * w.square().sum() for w in model.regularized())

    def batch_loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ce = -torch.log(p.clamp(EPS, 1.0)).gather(1, y[:, None]).squeeze(1)
        return (ce * class_weights[y]).sum() / y.shape[0] + penalty()

    # Equivalence at identical weights, before any training: outputs, penalty, loss and gradients
    # of the first batch, dropout off (tfjs is in inference mode for these too).
    model.eval()
    k = ref["check"]["windows"]
    ref_probs = np.fromfile(os.path.join(args.data, ref["check"]["probs_file"]), dtype="<f4").reshape(k, nc)
    with torch.no_grad():
        probs = model(x_val[:k]).numpy()
        pen = float(penalty())
    first = torch.tensor(ref["check"]["batch"], dtype=torch.int64)
    model.zero_grad()
    loss0 = batch_loss(model(x_train[first]), y_train[first])
    loss0.backward()
    ref_grads = model.load_tfjs(tfjs_arrays(ref["check"]["grads_file"]))
    grad_err = max(float(np.abs(p.grad.numpy() - g).max()) / max(float(np.abs(g).max()), 1e-12) for p, g in zip(params, ref_grads))
    model.zero_grad()
    order0 = list(range(x_train.shape[0]))
    Rng(meta["shuffle_seed"]).shuffle(order0)
    check = {
        "max_abs_dprob": float(np.abs(probs - ref_probs).max()),
        "penalty_rel": abs(pen - ref["check"]["penalty"]) / max(abs(ref["check"]["penalty"]), 1e-12),
        "loss_abs": abs(float(loss0) - ref["check"]["loss"]),
        "grad_max_rel": grad_err,
        "shuffle_match": order0[: len(meta["first_order"])] == meta["first_order"],
    }

    # tf.train.adam(lr): β 0.9/0.999 and ε = the cpu backend's 1e-7; its update is PyTorch's
    # (ε added to √v̂), only the default ε differs.
    opt = torch.optim.Adam(trainable, lr=hyper["learning_rate"], betas=(0.9, 0.999), eps=1e-7)
    n = x_train.shape[0]
    bs = min(hyper["batch_size"], n)
    rng = Rng(meta["shuffle_seed"])
    epochs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = list(range(n))
        rng.shuffle(order)
        order_t = torch.tensor(order, dtype=torch.int64)
        loss_sum, correct = 0.0, 0
        for b in range(0, n, bs):
            idx = order_t[b : b + bs]
            xb, yb = x_train[idx], y_train[idx]
            p = model(xb)
            loss = batch_loss(p, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # The trainer reads loss and predictions back every batch (dataSync); so does this.
            loss_sum += loss.item() * idx.shape[0]
            correct += int((p.detach().argmax(-1) == yb).sum())
        # Validation every epoch, in chunks of 512 like predictProbs; loss and accuracy only
        # (the trainer's AUC and F1 are plain JS over a few thousand numbers: milliseconds).
        model.eval()
        with torch.no_grad():
            vp = torch.cat([model(x_val[s : s + 512]) for s in range(0, x_val.shape[0], 512)]).numpy()
        rows = np.arange(len(y_val))
        val_loss = float(-np.log(np.clip(vp[rows, y_val], EPS, 1)).mean()) if len(y_val) else float("nan")
        val_acc = float((vp.argmax(-1) == y_val).mean()) if len(y_val) else float("nan")
        epochs.append({"epoch": epoch, "seconds": time.perf_counter() - t0, "loss": loss_sum / n, "accuracy": correct / n, "val_loss": val_loss, "val_accuracy": val_acc})
        print(f"epoch {epoch}: {epochs[-1]['seconds']:.2f} s, val_accuracy {val_acc:.3f}", file=sys.stderr, flush=True)

    later = [e["seconds"] for e in epochs[1:]] or [epochs[0]["seconds"]]
    print(json.dumps({
        "arch": args.arch,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "params": sum(p.numel() for p in trainable),
        "epochs": epochs,
        "median_epoch_s": statistics.median(later),
        "check": check,
        "self_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
