"""
`python -m trainyard_text_torch DIR`: the text-classifier's training loop (main.ts train) for
its transformer, in PyTorch, on what the TypeScript trainer wrote into DIR (torch-loop.ts):

  job.json    network sizes, weight names and shapes, learning rate, epochs, files
  state.f32   the weights, then Adam's first and second moments, in weights.bin's order
  *_ids.i32   token ids of every text, concatenated; *_offsets.i32 where each text starts
  *_y.i32     class indices
  order.i32   every epoch's row order, sizes.i32 every epoch's batch sizes (data.ts
              epochBatches: shuffled, grouped by length, from the job's shuffle stream; the
              tfjs loop's first epoch is the same, later ones differ because its dropout
              draws from that stream too)

Same loop: softmax cross-entropy, Adam (β 0.9/0.999, ε 1e-8) with lazy updates of the
embedding rows a batch uses (SparseAdam: what model.ts AdamParam does), validation
probabilities every epoch. Dropout masks come from torch's generator (the one thing that differs).

Talks to its parent in JSON lines on stdout: ready, progress (throttled), epoch (the validation
probabilities in a file: the parent computes the metrics, as for tfjs), then done or, after
SIGTERM, stopped with the state at the start of the interrupted epoch.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from trainyard_common.exchange import start_loop, write_flat
from trainyard_common.protocol import emit

PROGRESS_EVERY_S = 0.25
PREDICT_BATCH = 64


def read(d: str, name: str, dtype: str) -> np.ndarray:
    return np.fromfile(os.path.join(d, name), dtype={"f32": "<f4", "i32": "<i4"}[dtype])


class Texts:
    """Token ids of a set of texts, padded per batch to its longest."""

    def __init__(self, d: str, prefix: str, device) -> None:
        import torch

        self.ids = read(d, f"{prefix}_ids.i32", "i32")
        self.offsets = read(d, f"{prefix}_offsets.i32", "i32")
        self.lengths = np.diff(self.offsets)
        self.y = torch.from_numpy(read(d, f"{prefix}_y.i32", "i32").astype(np.int64)).to(device)
        self.device = device

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, rows: np.ndarray):
        import torch

        lengths = self.lengths[rows]
        ids = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : lengths[i]] = self.ids[self.offsets[r] : self.offsets[r + 1]]
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(lengths.astype(np.int64)).to(self.device)


def main() -> None:
    d = sys.argv[1]
    job, stop, device = start_loop(d)

    import torch

    from .model import TextTransformer, optimizers, train_step

    names, shapes = job["names"], job["shapes"]
    model = TextTransformer(job["config"], names, shapes)
    sizes = [int(np.prod(s)) for s in shapes]
    state = torch.from_numpy(read(d, job["state"], "f32").copy())
    if state.numel() != 3 * sum(sizes):
        raise SystemExit(f"state.f32 holds {state.numel()} floats where weights and moments need {3 * sum(sizes)}")
    parts = [t.view(s) for t, s in zip(torch.split(state, sizes * 3), shapes * 3)]
    k = len(names)
    with torch.no_grad():
        for p, w in zip(model.tensors.values(), parts[:k]):
            p.copy_(w)
    model.to(device)
    emb = model.tensors["embedding"]
    opts = optimizers(model, job["learning_rate"])
    step = int(job["step"])
    if step > 0:
        moments = {n: (parts[k + i].to(device), parts[2 * k + i].to(device)) for i, n in enumerate(names)}
        for n, p in model.tensors.items():
            m, v = moments[n]
            opt = opts[1] if p is emb else opts[0]
            opt.state[p] = {"step": step if p is emb else torch.tensor(float(step)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}

    train, val = Texts(d, "train", device), Texts(d, "val", device)
    n = len(train)
    order = read(d, "order.i32", "i32").reshape(-1, n) if n else np.zeros((0, 0), np.int32)
    batch_sizes = read(d, "sizes.i32", "i32").reshape(order.shape[0], -1)
    first = int(job["first_epoch"])

    def snapshot() -> dict:
        """Weights and Adam moments at the start of an epoch, in weights.bin's order: what a checkpoint holds."""
        out = {"step": step, "w": [p.detach().clone() for p in model.tensors.values()], "m": [], "v": []}
        for p in model.tensors.values():
            s = (opts[1] if p is emb else opts[0]).state.get(p)
            out["m"].append(s["exp_avg"].clone() if s else torch.zeros_like(p))
            out["v"].append(s["exp_avg_sq"].clone() if s else torch.zeros_like(p))
        return out

    def predict(texts: Texts) -> torch.Tensor:
        model.eval()
        out = torch.empty(len(texts), job["config"]["classes"], device=device)
        # Similar lengths together, as transformer.ts predict does: a batch pads to its longest.
        by_length = np.argsort(texts.lengths, kind="stable")
        with torch.no_grad():
            for s in range(0, len(texts), PREDICT_BATCH):
                rows = by_length[s : s + PREDICT_BATCH]
                out[torch.from_numpy(rows).to(device)] = torch.softmax(model(*texts.batch(rows)), -1)
        return out

    emit({"type": "ready", "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads()})
    last_progress = time.monotonic()
    for e, epoch in enumerate(range(first, job["epochs"] + 1)):
        t0 = time.perf_counter()
        start = snapshot()
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        at = 0
        for b, size in enumerate(batch_sizes[e]):
            if stop["requested"]:
                report_stop(d, start, epoch - 1)
                return
            rows = order[e, at : at + size]
            at += size
            ids, lengths = train.batch(rows)
            y = train.y[torch.from_numpy(rows.astype(np.int64)).to(device)]
            loss, logits = train_step(model, opts, ids, lengths, y)
            step += 1
            # Accumulated on the device: one read-back per epoch, not one per batch.
            loss_sum += loss.detach()
            correct += (logits.detach().argmax(-1) == y).sum()
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                emit({"type": "progress", "epoch": epoch, "batch": b + 1})
        loss_mean = float(loss_sum) / n
        if not np.isfinite(loss_mean):
            raise SystemExit(f"training diverged at epoch {epoch} (loss is {loss_mean}); lower learning_rate")
        event = {"type": "epoch", "epoch": epoch, "loss": loss_mean, "accuracy": int(correct) / n}
        if len(val) > 0:
            predict(val).float().cpu().numpy().astype("<f4").tofile(os.path.join(d, "val-probs.f32"))
            event["val_probs"] = "val-probs.f32"
        event["seconds"] = time.perf_counter() - t0
        emit(event)
    write_flat(d, "final.f32", [p.detach() for p in model.tensors.values()])
    torch.save({name: p.detach().cpu() for name, p in model.tensors.items()}, os.path.join(d, "model.pt"))
    emit({"type": "done", "weights": "final.f32", "state_dict": "model.pt"})



def report_stop(d: str, start: dict, completed: int) -> None:
    """The state at the start of the interrupted epoch, in state.f32's layout: what a checkpoint holds."""
    emit({"type": "stopped", "epoch": completed, "step": start["step"], "state": write_flat(d, "stop-state.f32", start["w"] + start["m"] + start["v"])})


if __name__ == "__main__":
    main()
