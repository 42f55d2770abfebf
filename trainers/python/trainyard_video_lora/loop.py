"""
The training loop both video trainers share: AdamW over the trainable (adapter and head)
parameters, linear warmup then decay, clipping at 1.0, evaluation before the first step and at
the end of each epoch, checkpoints every `checkpoint_every` steps and on SIGTERM. A checkpoint
holds the trainable weights, optimizer, scheduler, RNG and position, and the data order depends
only on seed and epoch, so a resumed run ends exactly where an uninterrupted one would.
"""
from __future__ import annotations

import math
import random
import sys
import time
from typing import Any, Dict, List

import torch
from transformers import get_linear_schedule_with_warmup

from trainyard_common import protocol as tp
from trainyard_common import peft_utils as PU


class Loop:
    """Subclasses say how a batch's loss is computed (`loss`) and what evaluation reports (`evaluate`)."""

    #: The evaluation metric reported as the loss on held-out clips.
    eval_key = "eval_loss"

    def __init__(self, spec, hp, model, dev, n_train: int, stop):
        self.spec, self.model, self.dev, self.stop = spec, model, dev, stop
        self.n_train = n_train
        self.epochs = int(hp["epochs"])
        self.batch_size = int(hp["batch_size"])
        self.checkpoint_every = max(1, int(hp.get("checkpoint_every", 50)))
        self.seed = int(hp["seed"])
        self.steps_per_epoch = math.ceil(n_train / self.batch_size)
        self.total_steps = self.epochs * self.steps_per_epoch
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=float(hp["learning_rate"]), weight_decay=0.0)
        warmup = int(round(float(hp.get("warmup_ratio", 0.0)) * self.total_steps))
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.total_steps)
        self.pos: Dict[str, Any] = {"step": 0, "first_eval": None, "eval": None, "train_loss": None,
                                    "epoch_loss_sum": 0.0, "epoch_count": 0, "clips": 0, "step_time": 0.0,
                                    "train_time": 0.0}

    # --- what subclasses provide -------------------------------------------------------------
    def loss(self, items: List[int]) -> tuple:
        """(summed loss over the batch's units as a tensor, number of units): clips or caption tokens."""
        raise NotImplementedError

    def evaluate(self) -> Dict[str, float]:
        raise NotImplementedError

    # --- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        self._resume()
        if self.pos["first_eval"] is None:
            self.pos["first_eval"] = self._eval()
            tp.metrics(0, self.pos["first_eval"], epoch=0)
        self.model.train()
        while self.pos["step"] < self.total_steps:
            epoch = self.pos["step"] // self.steps_per_epoch
            for batch in self._batches(epoch)[self.pos["step"] % self.steps_per_epoch:]:
                self._step(batch)
                step = self.pos["step"]
                if step % self.steps_per_epoch == 0:
                    self._end_epoch(epoch)
                if step < self.total_steps and (self.stop.requested or step % self.checkpoint_every == 0):
                    self._checkpoint()
                    if self.stop.requested:
                        tp.log(f"stopped at step {step} of {self.total_steps}; resume continues from the checkpoint", "warn")
                        sys.exit(143)

    def _batches(self, epoch: int) -> List[List[int]]:
        order = list(range(self.n_train))
        random.Random(self.seed * 100_003 + epoch).shuffle(order)
        return [order[j:j + self.batch_size] for j in range(0, len(order), self.batch_size)]

    def _step(self, batch: List[int]) -> None:
        t0 = time.time()
        loss_sum, count = self.loss(batch)
        (loss_sum / max(1, count)).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        elapsed = time.time() - t0
        p = self.pos
        p["step"] += 1
        p["epoch_loss_sum"] += float(loss_sum.detach())
        p["epoch_count"] += count
        p["clips"] += len(batch)
        p["step_time"] += elapsed
        p["train_time"] += elapsed
        fraction = p["step"] / self.steps_per_epoch
        tp.progress(p["step"], self.total_steps, epoch=fraction, total_epochs=self.epochs)
        tp.metrics(p["step"], {"loss": float(loss_sum.detach()) / max(1, count), "lr": lr, "grad_norm": float(grad_norm)},
                   epoch=fraction)

    def _eval(self) -> Dict[str, float]:
        self.model.eval()
        with torch.no_grad():
            out = self.evaluate()
        self.model.train()
        return out

    def _end_epoch(self, epoch: int) -> None:
        t0 = time.time()
        p = self.pos
        p["train_loss"] = p["epoch_loss_sum"] / max(1, p["epoch_count"])
        p["epoch_loss_sum"], p["epoch_count"] = 0.0, 0
        p["eval"] = self._eval()
        p["train_time"] += time.time() - t0
        tp.metrics(p["step"], {**p["eval"], "train_loss": p["train_loss"]}, epoch=epoch + 1)
        summary = ", ".join(f"{k} {v:.4f}" for k, v in p["eval"].items() if "_f1_" not in k)
        tp.log(f"epoch {epoch + 1}/{self.epochs}: train_loss {p['train_loss']:.4f}, {summary}")

    def _checkpoint(self) -> None:
        PU.save_adapter_checkpoint(self.spec, self.pos["step"], self.model, self.optimizer, self.scheduler, self.total_steps, self.pos)

    def _resume(self) -> None:
        position = PU.resume_adapter_checkpoint(self.spec, self.model, self.optimizer, self.scheduler, self.total_steps)
        if position is not None:
            self.pos.update(position)

    def result_metrics(self) -> Dict[str, float]:
        p = self.pos
        first = {f"first_{k}": v for k, v in (p["first_eval"] or {}).items() if k == self.eval_key}
        return {**(p["eval"] or {}), **first, "train_loss": p["train_loss"],
                "clips_per_second": p["clips"] / max(p["step_time"], 1e-9), "train_time_s": p["train_time"]}
