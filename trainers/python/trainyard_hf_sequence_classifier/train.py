"""
hf-sequence-classifier: fine-tunes a BERT-family encoder (AutoModelForSequenceClassification)
on text-classification JSONL with a plain PyTorch loop, keeping the best evaluated weights.

Heavy libraries are imported at module top on purpose: the catalog's probe imports this module
to decide whether the environment can run the trainer.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import transformers
from transformers import get_linear_schedule_with_warmup

from trainyard_common import evaluation as E
from trainyard_common import protocol as tp
from trainyard_common import torch_utils as tu
from trainyard_common.protocol import TrainerError

from . import data
from . import metrics as M
from . import model as hf

BEST_METRICS = ("accuracy", "f1", "precision", "recall", "loss")
# Leaves room in the result's 200 values for the fixed metrics next to precision_/recall_/f1_<class>.
PER_CLASS_BUDGET = 190


def hyperparameters(spec: Dict[str, Any]) -> Dict[str, Any]:
    hp = {
        "max_length": 256, "batch_size": 16, "learning_rate": 2e-5, "num_epochs": 2, "warmup_steps": 100,
        "weight_decay": 0.01, "metric_for_best_model": "f1", "greater_is_better": True, "validation_split": 0.2,
        "seed": 42, "eval_steps": None, "checkpoint_every": 200, **(spec.get("hyperparameters") or {}),
    }
    if hp["metric_for_best_model"] not in BEST_METRICS:
        raise TrainerError("BAD_HYPERPARAMETERS", f"metric_for_best_model must be one of {', '.join(BEST_METRICS)}")
    if hp["metric_for_best_model"] == "loss" and hp["greater_is_better"]:
        # The schema fills greater_is_better=true by default; nobody means "keep the highest loss".
        tp.log("metric_for_best_model is loss: keeping the lowest val_loss (greater_is_better ignored)", "warn")
        hp["greater_is_better"] = False
    return hp


def split_data(spec: Dict[str, Any], hp: Dict[str, Any]):
    """Training and validation rows, the label list, the labels' type, and the test rows (None without a test set)."""
    label_types: set = set()
    rows = data.read_dataset(spec["inputs"]["dataset"], label_types)
    val_ds = spec["inputs"].get("validation_dataset")
    if val_ds:
        train_rows, val_rows = rows, data.read_dataset(val_ds)
    else:
        train_rows, val_rows = data.stratified_split(rows, float(hp["validation_split"]), int(hp["seed"]))
    labels = data.label_names(train_rows + val_rows)
    unseen = sorted({label for _, label in val_rows} - {label for _, label in train_rows})
    if unseen:
        tp.log(f"labels only in the validation data (the model cannot learn them): {unseen}", "warn")
    if not val_rows:
        tp.log("no validation rows: validation metrics are measured on the training data", "warn")
        val_rows = train_rows
    # Read up front so a test set that cannot be scored fails before any training; its labels
    # never reach the label list, the validation data or the choice of the best epoch.
    test_ds = spec["inputs"].get("test_dataset")
    test_rows = data.read_test_set(test_ds, labels) if test_ds else None
    return train_rows, val_rows, labels, E.label_type_of(labels, label_types), test_rows


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    # Decay shrinks weights toward zero; biases and LayerNorm gains should not be pulled there.
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "bias" in name or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)


@torch.inference_mode()
def predict_ids(model, enc: data.Encoded, batch_size: int, dev: torch.device):
    """Predicted class ids of every row, and the mean loss."""
    model.eval()
    preds, total_loss = [], 0.0
    for start in range(0, len(enc), batch_size):
        idx = list(range(start, min(start + batch_size, len(enc))))
        out = model(**{k: v.to(dev) for k, v in enc.batch(idx).items()})
        total_loss += float(out.loss) * len(idx)
        preds.append(out.logits.argmax(-1).cpu().numpy())
    model.train()
    return np.concatenate(preds), total_loss / max(1, len(enc))


def evaluate(model, enc: data.Encoded, batch_size: int, dev: torch.device, labels: List[str]) -> Dict[str, Any]:
    preds, loss = predict_ids(model, enc, batch_size, dev)
    report = M.classification_report(np.asarray(enc.labels), preds, labels)
    report["loss"] = loss
    return report


def val_values(report: Dict[str, Any]) -> Dict[str, float]:
    return {f"val_{k}": report[k] for k in ("loss", "accuracy", "f1", "precision", "recall")}


class Best:
    """The best evaluation so far and a CPU copy of its weights, restored at the end of training."""

    def __init__(self, metric: str, greater: bool):
        self.metric, self.greater = metric, greater
        self.score: Optional[float] = None
        self.step, self.epoch = 0, 0.0
        self.report: Dict[str, Any] = {}
        self.weights: Optional[Dict[str, torch.Tensor]] = None

    def offer(self, report: Dict[str, Any], step: int, epoch: float, model: torch.nn.Module) -> bool:
        score = float(report[self.metric])
        if self.score is not None:
            better = score > self.score if self.greater else score < self.score
            # Small validation sets often tie on accuracy/F1 (1.0 for several epochs): the lower loss wins a tie.
            if not better and not (score == self.score and report["loss"] < self.report["loss"]):
                return False
        self.score, self.step, self.epoch, self.report = score, step, epoch, report
        self.weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return True

    def state(self) -> Dict[str, Any]:
        return {"score": self.score, "step": self.step, "epoch": self.epoch, "report": self.report, "weights": self.weights}

    def load(self, s: Dict[str, Any]) -> None:
        self.score, self.step, self.epoch, self.report, self.weights = s["score"], s["step"], s["epoch"], s["report"], s["weights"]


def save_outputs(spec: Dict[str, Any], model, tokenizer, result: Dict[str, float], labels: List[str]) -> None:
    out = spec["output_dir"]
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    # By name, not by what appeared: a retried attempt finds the files of the one before it already there.
    model_files = sorted(n for n in os.listdir(out) if n == "config.json" or n.endswith((".safetensors", ".safetensors.index.json")))
    tokenizer_files = tokenizer.save_pretrained(out)
    usage = (
        "```python\nfrom transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
        "model = AutoModelForSequenceClassification.from_pretrained(DIR)\ntokenizer = AutoTokenizer.from_pretrained(DIR)\n```\n\n"
        f"Labels (id order): {', '.join(labels)}.\n\nAs a prediction process (JSON lines on stdin/stdout): "
        "`python -m trainyard_hf_sequence_classifier.predict --model DIR`."
    )
    tu.write_model_card(os.path.join(out, "README.md"), "Transformer text classifier", spec, result, usage)
    for name in model_files:
        tp.artifact(name, os.path.join(out, name), "safetensors" if name.endswith(".safetensors") else "hf-config")
    for path in sorted({os.path.abspath(p) for p in tokenizer_files if os.path.isfile(p)}):
        tp.artifact(os.path.basename(path), path, "hf-tokenizer")
    tp.artifact("README.md", os.path.join(out, "README.md"), "model-card")


def main() -> None:
    spec = tp.load_spec()
    stop = tp.StopFlag()
    transformers.utils.logging.disable_progress_bar()
    hp = hyperparameters(spec)
    seed = int(hp["seed"])
    tu.seed_everything(seed)
    dev = tu.device()
    torch.backends.cuda.matmul.allow_tf32 = True

    train_rows, val_rows, labels, label_type, test_rows = split_data(spec, hp)
    model, tokenizer = hf.load(tu.base_model_path(spec), spec.get("init_from"), labels)
    max_length = hf.usable_length(int(hp["max_length"]), model, tokenizer)
    tokenizer.model_max_length = max_length  # saved with the tokenizer: predictions truncate like training did
    model.config.label_type = label_type  # saved in config.json: predict answers 3, not "3"
    model.to(dev).train()
    label2id = {label: i for i, label in enumerate(labels)}
    train_enc = data.Encoded(tokenizer, train_rows, label2id, max_length)
    val_enc = data.Encoded(tokenizer, val_rows, label2id, max_length)

    bs, epochs = int(hp["batch_size"]), int(hp["num_epochs"])
    steps_per_epoch = math.ceil(len(train_enc) / bs)
    total = steps_per_epoch * epochs
    eval_steps = int(hp["eval_steps"]) if hp.get("eval_steps") else 0
    ckpt_every = int(hp.get("checkpoint_every") or 200)
    optimizer = make_optimizer(model, float(hp["learning_rate"]), float(hp["weight_decay"]))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(hp["warmup_steps"]), total)
    best = Best(hp["metric_for_best_model"], bool(hp["greater_is_better"]))
    tp.log(f"{len(train_rows)} training rows, {len(val_rows)} validation rows, {len(labels)} labels, "
           f"{total} steps ({epochs} × {steps_per_epoch} per epoch), device {dev}")

    step, elapsed_before = 0, 0.0
    state = tu.load_resume(spec)
    if state is not None:
        if state.get("labels") != labels or state.get("total_steps") != total:
            raise TrainerError("CHECKPOINT_MISMATCH", "the checkpoint was written for other data or hyperparameters")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        best.load(state["best"])
        step, elapsed_before = int(state["step"]), float(state.get("elapsed_s", 0.0))
    started = time.time()

    def checkpoint() -> None:
        tu.save_checkpoint(spec, step, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "best": best.state(), "labels": labels, "total_steps": total, "elapsed_s": elapsed_before + time.time() - started,
        })

    while step < total:
        epoch_index, b = divmod(step, steps_per_epoch)
        idx = data.epoch_order(len(train_enc), seed, epoch_index)[b * bs:(b + 1) * bs]
        loss = model(**{k: v.to(dev) for k, v in train_enc.batch(idx).items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        epoch = step / steps_per_epoch
        tp.progress(step, total, epoch=epoch, total_epochs=epochs)
        tp.metrics(step, {"loss": loss.item(), "lr": lr}, epoch=epoch)

        # Every eval_steps (and at the last step, so the final weights get a say), else at each epoch end.
        eval_due = (step % eval_steps == 0 or step == total) if eval_steps else step % steps_per_epoch == 0
        if eval_due:
            report = evaluate(model, val_enc, bs, dev, labels)
            tp.metrics(step, val_values(report), epoch=epoch)
            if best.offer(report, step, epoch, model):
                tp.log(f"new best model at epoch {epoch:g} (step {step}): val_{best.metric}={best.score:.4f}")
        if stop.requested and step < total:
            checkpoint()
            sys.exit(143)
        if step % ckpt_every == 0 and step < total:
            checkpoint()

    model.load_state_dict(best.weights)
    tp.log(f"keeping the best model: epoch {best.epoch:g} (step {best.step}), val_{best.metric}={best.score:.4f}")
    report = best.report
    result = {**val_values(report), "best_epoch": best.epoch, "train_time_s": elapsed_before + time.time() - started}
    result.update(M.per_class_metrics(report, PER_CLASS_BUDGET))
    details: Dict[str, Any] = {
        "labels": labels, "confusion_matrix": report["confusion_matrix"], "per_class": report["per_class"],
        "best_step": best.step, "metric_for_best_model": best.metric,
    }
    if test_rows is not None:
        # Scored once, with the weights being saved.
        test_enc = data.Encoded(tokenizer, test_rows, label2id, max_length)
        preds, _ = predict_ids(model, test_enc, bs, dev)
        details["test"] = E.classification_report(test_enc.labels, preds.tolist(), labels)
        result.update(E.test_metrics(details["test"]))
        tp.log(f"test set: accuracy {details['test']['accuracy']:.4f}, macro F1 {details['test']['macro_f1']:.4f} on {len(test_rows)} rows")
    save_outputs(spec, model, tokenizer, result, labels)
    tp.result(result, details)
