"""
`python -m trainyard_video_lora.classify --spec job.json`: video classification with a
VideoMAE-style encoder (transformers' VideoMAEForVideoClassification): a new classification head
sized to the dataset's labels, trained in full, and LoRA on the attention projections.
Reports val_loss, val_accuracy, val_f1 (macro) and f1_<class>; the artifact is the PEFT adapter
(the head is saved with it, as a module to save), labels.json and a model card.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, List

import torch
import torch.nn.functional as F

from trainyard_common import peft_utils as PU
from trainyard_common import protocol as tp
from trainyard_common import torch_utils as tu
from trainyard_hf_sequence_classifier.metrics import classification_report, per_class_metrics

from . import data as D
from . import models as M
from .loop import Loop

DEFAULTS: Dict[str, Any] = {
    "epochs": 3, "learning_rate": 1e-3, "batch_size": 4, "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.05,
    "target_modules": ["query", "value"], "quantization": "none", "num_frames": 16, "frame_size": None,
    "validation_split": 0.2, "warmup_ratio": 0.0, "checkpoint_every": 50, "seed": 42,
}

USAGE = """```python
import json, torch
from transformers import VideoMAEForVideoClassification
from peft import PeftModel

BASE = "path/to/base-model"  # the Trainyard base model `{base}`
labels = json.load(open("path/to/this/folder/labels.json"))
base = VideoMAEForVideoClassification.from_pretrained(
    BASE, num_labels=len(labels["labels"]), id2label=dict(enumerate(labels["labels"])),
    num_frames={num_frames}, image_size={frame_size}, ignore_mismatched_sizes=True)
model = PeftModel.from_pretrained(base, "path/to/this/folder").eval()
# pixel_values: (batch, {num_frames}, 3, {frame_size}, {frame_size}) frames sampled uniformly, normalised as in labels.json
print(labels["labels"][model(pixel_values=pixel_values).logits.argmax(-1).item()])
```"""


def main() -> None:
    from transformers import VideoMAEForVideoClassification

    spec = tp.load_spec()
    stop = tp.StopFlag()
    hp = {**DEFAULTS, **(spec.get("hyperparameters") or {})}
    tu.seed_everything(int(hp["seed"]))
    base = tu.base_model_path(spec)
    arch = M.architecture(base, ("videomae",))
    dev = tu.device()

    with tempfile.TemporaryDirectory() as work:
        train, val = _clips(spec, hp, work)
        labels = sorted({c.label for c in train + val})
        if len(labels) < 2:
            raise tp.TrainerError("INVALID_DATASET", "classification needs at least 2 distinct labels")
        index = {label: i for i, label in enumerate(labels)}
        cfg = _config(base)
        num_frames = int(hp["num_frames"])
        size = int(hp["frame_size"] or M.native_size(cfg))
        if num_frames % int(cfg.tubelet_size) or size % int(cfg.patch_size):
            raise tp.TrainerError("INVALID_HYPERPARAMETERS", f"num_frames must be a multiple of {cfg.tubelet_size} and "
                                  f"frame_size of {cfg.patch_size} for this base model")
        mean, std = M.mean_std(base, arch)
        tp.log(f"decoding {len(train) + len(val)} clips: {num_frames} frames of {size}x{size}")
        x_train = torch.stack([D.normalize(D.decode(c.path, num_frames, size, c.frames), mean, std) for c in train])
        x_val = torch.stack([D.normalize(D.decode(c.path, num_frames, size, c.frames), mean, std) for c in val])
    y_train = torch.tensor([index[c.label] for c in train])
    y_val = torch.tensor([index[c.label] for c in val])

    # VideoMAE's position table is sinusoidal, not learned: it is rebuilt for any frame count and size.
    model, quantization = PU.load_frozen(VideoMAEForVideoClassification, base, hp["quantization"], dev, skip=["classifier"],
                                 num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=index,
                                 num_frames=num_frames, image_size=size, ignore_mismatched_sizes=True)
    model = PU.adapt(model, spec, hp, modules_to_save=["classifier"])
    trainable, total_params = model.get_nb_trainable_parameters()
    tp.log(f"{quantization} base, {trainable:,} trainable of {total_params:,} parameters; "
           f"{len(train)} training clips, {len(val)} validation clips, {len(labels)} classes")

    loop = ClassifierLoop(spec, hp, model, dev, x_train, y_train, x_val, y_val, labels, stop)
    loop.run()

    out = spec["output_dir"]
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    with open(os.path.join(out, "labels.json"), "w", encoding="utf-8") as f:
        json.dump({"labels": labels, "num_frames": num_frames, "frame_size": size, "image_mean": mean, "image_std": std}, f, indent=2)
    metrics = loop.result_metrics()
    tu.write_model_card(os.path.join(out, "README.md"), "LoRA adapter (video classification)", spec, metrics,
                        USAGE.format(base=(spec.get("base_model") or {}).get("id", "?"), num_frames=num_frames, frame_size=size))
    for name, fmt in (("adapter_config.json", "peft-adapter-config"), ("adapter_model.safetensors", "safetensors-peft"),
                      ("labels.json", "label-map"), ("README.md", "model-card")):
        tp.artifact(name, os.path.join(out, name), fmt)
    tp.result(metrics, {"clips_train": len(train), "clips_eval": len(val), "labels": labels,
                        "quantization_used": quantization, "trainable_params": trainable, "total_params": total_params,
                        "total_steps": loop.total_steps, "report": loop.report, "warm_start": bool(spec.get("init_from"))})


def _config(base: str):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(base)


def _clips(spec: Dict[str, Any], hp: Dict[str, Any], work: str):
    inputs = spec["inputs"]
    clips = D.read_dataset(inputs["dataset"], work, "label")
    if inputs.get("validation_dataset"):
        return clips, D.read_dataset(inputs["validation_dataset"], os.path.join(work, "val"), "label")
    return D.split(clips, float(hp["validation_split"]), int(hp["seed"]), by_label=True)


class ClassifierLoop(Loop):
    eval_key = "val_loss"

    def __init__(self, spec, hp, model, dev, x_train, y_train, x_val, y_val, labels: List[str], stop):
        super().__init__(spec, hp, model, dev, len(x_train), stop)
        self.x_train, self.y_train, self.x_val, self.y_val, self.labels = x_train, y_train, x_val, y_val, labels
        self.report: Dict[str, Any] = {}
        self.dtype = getattr(model, "dtype", torch.float32)
        if not self.dtype.is_floating_point:
            self.dtype = torch.bfloat16

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=x.to(self.dev, self.dtype)).logits.float()

    def loss(self, items: List[int]):
        logits = self._logits(self.x_train[items])
        return F.cross_entropy(logits, self.y_train[items].to(self.dev), reduction="sum"), len(items)

    def evaluate(self) -> Dict[str, float]:
        total, preds = 0.0, []
        for j in range(0, len(self.x_val), self.batch_size):
            logits = self._logits(self.x_val[j:j + self.batch_size])
            total += float(F.cross_entropy(logits, self.y_val[j:j + self.batch_size].to(self.dev), reduction="sum"))
            preds.append(logits.argmax(-1).cpu())
        report = classification_report(self.y_val.numpy(), torch.cat(preds).numpy(), self.labels)
        self.report = report
        per_class = {k: v for k, v in per_class_metrics(report, 150).items() if k.startswith("f1_")}
        return {"val_loss": total / max(1, len(self.x_val)), "val_accuracy": report["accuracy"], "val_f1": report["f1"],
                **{f"val_{k}": v for k, v in per_class.items()}}


if __name__ == "__main__":
    tp.main_guard(main)
