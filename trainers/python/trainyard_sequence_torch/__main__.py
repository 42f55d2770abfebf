"""
`python -m trainyard_sequence_torch DIR`: the sequence-classifier's training loop (train.ts
trainLoop) in PyTorch, on what the TypeScript trainer wrote into DIR (torch_learner.ts):

  job.json   architecture, loss and loop settings, the arrays' files and shapes, resume state
  *.f32/i32  standardized windows and labels of the split, initial weights (tfjs order, flat)
  lr.f64     the learning rate of every batch of every epoch (train.ts learningRateAt)

Same loop: batches in the trainer's shuffle order (its PRNG, bit for bit), class-weighted
cross-entropy on probabilities clipped to [1e-7, 1] plus the L1/L2 penalties, Adam (ε 1e-7),
validation every epoch, early stopping on val_loss never before min_epochs, best weights
restored. Dropout masks come from torch's generator (the one thing that differs).

Talks to its parent in JSON lines on stdout: ready, progress (throttled), epoch (its
validation probabilities in a file: the parent computes the metrics, as for tfjs), then done
or, after SIGTERM, stopped with the state at the start of the interrupted epoch.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from trainyard_common.exchange import start_loop, write_flat
from trainyard_common.protocol import emit

EPS = 1e-7
M32 = 0xFFFFFFFF
PROGRESS_EVERY_S = 0.25


class Rng:
    """runtime.ts's Rng (mulberry32), bit for bit: the same shuffle as the tfjs loop."""

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


def read_array(d: str, desc: dict) -> np.ndarray:
    dtype = {"f32": "<f4", "i32": "<i4", "f64": "<f8"}[desc["dtype"]]
    return np.fromfile(os.path.join(d, desc["file"]), dtype=dtype).reshape(desc["shape"])


def split_flat(flat: np.ndarray, shapes: list[list[int]]) -> list[np.ndarray]:
    out, at = [], 0
    for s in shapes:
        size = int(np.prod(s)) if s else 1
        out.append(flat[at : at + size].reshape(s))
        at += size
    if at != flat.size:
        raise ValueError(f"{flat.size} floats for weights that account for {at}")
    return out



def main() -> None:
    d = sys.argv[1]
    job, stop, device = start_loop(d)

    import torch

    from .models import build

    shapes = [w["shape"] for w in job["weights"]]
    model = build(job)
    model.load_tfjs(split_flat(read_array(d, {"file": job["init"], "dtype": "f32", "shape": [-1]}), shapes))
    model.to(device)
    params = [p for p, _ in model.mapping]

    x_train = torch.from_numpy(read_array(d, job["train_x"]).copy()).to(device)
    y_train = torch.from_numpy(read_array(d, job["train_y"]).astype(np.int64)).to(device)
    x_val = torch.from_numpy(read_array(d, job["val_x"]).copy()).to(device)
    y_val = torch.from_numpy(read_array(d, job["val_y"]).astype(np.int64)).to(device)
    lr = read_array(d, {"file": job["lr"], "dtype": "f64", "shape": [-1]})
    class_weights = torch.tensor(job["class_weights"], dtype=torch.float32, device=device)
    l1, l2 = job["l1"], job["l2"]

    def penalty() -> torch.Tensor:
        # tf.regularizers.l1l2: l1·Σ|w| + l2·Σw², added to the batch loss (not Adam's weight decay).
        return sum(l1 * w.abs().sum() + l2 * w.square().sum() for w in model.regularized)

    # tf.train.adam: β 0.9/0.999, ε 1e-7 on the cpu backend; the update is PyTorch's.
    opt = torch.optim.Adam(params, lr=float(lr[0]) if lr.size else 1e-3, betas=(0.9, 0.999), eps=1e-7)
    n = x_train.shape[0]
    bs = min(job["batch_size"], n)
    batches = -(-n // bs)
    has_val = y_val.shape[0] > 0
    early = job["patience"] > 0 and has_val
    rng = Rng(job["shuffle_seed"])
    first_epoch, best, wait = 1, None, 0

    resume = job.get("resume")
    if resume:
        model.load_tfjs(split_flat(read_array(d, {"file": resume["weights"], "dtype": "f32", "shape": [-1]}), shapes))
        if resume.get("moments"):
            both = split_flat(read_array(d, {"file": resume["moments"], "dtype": "f32", "shape": [-1]}), shapes + shapes)
            m, v = model.tfjs_to_torch(both[: len(params)]), model.tfjs_to_torch(both[len(params) :])
            for i, p in enumerate(params):
                opt.state[p] = {"step": torch.tensor(float(resume["iterations"])), "exp_avg": m[i].to(device), "exp_avg_sq": v[i].to(device)}
        rng.state = resume["rng_state"] & M32
        first_epoch = resume["epoch"] + 1
        wait = resume["wait"]
        if resume.get("best"):
            b = resume["best"]
            best = {"epoch": b["epoch"], "val_loss": b["val_loss"], "weights": model.tfjs_to_torch(split_flat(read_array(d, {"file": b["weights"], "dtype": "f32", "shape": [-1]}), shapes))}

    def snapshot() -> list[torch.Tensor]:
        return [p.detach().clone() for p in params]

    def restore(ws: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for p, w in zip(params, ws):
                p.copy_(w.to(p.device))

    def predict(x: torch.Tensor) -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            return torch.cat([model(x[s : s + 512]) for s in range(0, x.shape[0], 512)]) if x.shape[0] else torch.empty(0, job["classes"], device=device)

    emit({"type": "ready", "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads()})
    last_progress = time.monotonic()
    epochs_run, early_stopped = first_epoch - 1, False
    for epoch in range(first_epoch, job["epochs"] + 1):
        t0 = time.perf_counter()
        start = {"weights": snapshot(), "rng": rng.state, "opt": {id(p): {k: (v.clone() if torch.is_tensor(v) else v) for k, v in opt.state[p].items()} for p in params if p in opt.state}}
        order = list(range(n))
        rng.shuffle(order)
        order_t = torch.tensor(order, dtype=torch.int64, device=device)
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for b in range(batches):
            if stop["requested"]:
                report_stop(d, model, params, start, epoch - 1, best, wait, shapes)
                return
            idx = order_t[b * bs : (b + 1) * bs]
            xb, yb = x_train[idx], y_train[idx]
            for g in opt.param_groups:
                g["lr"] = float(lr[(epoch - 1) * batches + b])
            p = model(xb)
            ce = -torch.log(p.clamp(EPS, 1.0)).gather(1, yb[:, None]).squeeze(1)
            loss = (ce * class_weights[yb]).sum() / yb.shape[0] + penalty()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # Accumulated on the device: one read-back per epoch, not one per batch.
            loss_sum += loss.detach() * yb.shape[0]
            correct += (p.detach().argmax(-1) == yb).sum()
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                emit({"type": "progress", "epoch": epoch, "batch": b + 1})
        loss_mean = float(loss_sum) / n
        if not np.isfinite(loss_mean):
            raise SystemExit(f"training diverged at epoch {epoch} (loss is {loss_mean}); lower learning_rate")
        event = {"type": "epoch", "epoch": epoch, "batches": batches, "loss": loss_mean, "accuracy": int(correct) / n}
        val_loss = float("nan")
        if has_val:
            vp = predict(x_val)
            val_loss = float(-torch.log(vp.gather(1, y_val[:, None]).clamp(EPS, 1.0).double()).mean())
            name = "val-probs.f32"
            vp.float().cpu().numpy().astype("<f4").tofile(os.path.join(d, name))
            event["val_probs"] = name
        event["weights"] = write_flat(d, "epoch-weights.f32", model.to_tfjs())
        event["seconds"] = time.perf_counter() - t0
        epochs_run = epoch
        improved = False
        if early:
            if best is None or val_loss < best["val_loss"]:
                best, wait, improved = {"epoch": epoch, "val_loss": val_loss, "weights": snapshot()}, 0, True
            else:
                wait += 1
        emit(event)
        if early and not improved and wait >= job["patience"] and epoch >= job["min_epochs"]:
            early_stopped = epoch < job["epochs"]
            break
    if best is not None:
        restore(best["weights"])
    final = write_flat(d, "final.f32", model.to_tfjs())
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, os.path.join(d, "model.pt"))
    emit({"type": "done", "weights": final, "state_dict": "model.pt", "best_epoch": best["epoch"] if best else epochs_run, "epochs_run": epochs_run, "early_stopped": early_stopped})


def report_stop(d: str, model, params, start: dict, completed: int, best: dict | None, wait: int, shapes) -> None:
    """The state at the start of the interrupted epoch, in the tfjs layout: what train.ts's LoopState holds."""
    event = {"type": "stopped", "epoch": completed, "rng_state": start["rng"], "wait": wait, "weights": write_flat(d, "stop-weights.f32", model.to_tfjs(start["weights"]))}
    states = [start["opt"].get(id(p)) for p in params]
    if all(s is not None for s in states):
        event["iterations"] = int(float(states[0]["step"]))
        event["moments"] = write_flat(d, "stop-moments.f32", model.to_tfjs([s["exp_avg"] for s in states]) + model.to_tfjs([s["exp_avg_sq"] for s in states]))
    if best is not None:
        event["best"] = {"epoch": best["epoch"], "val_loss": best["val_loss"], "weights": write_flat(d, "stop-best.f32", model.to_tfjs(best["weights"]))}
    emit(event)


if __name__ == "__main__":
    main()
