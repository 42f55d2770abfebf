"""
`python -m trainyard_video_lora.caption --spec job.json`: video captioning with a vision-language
model over uniformly sampled frames, LoRA (4-bit QLoRA on CUDA) on its attention projections.

Two styles of model, told apart by the base model's config:
- flamingo (IDEFICS, the open Flamingo): the frames are images the language model reads through
  gated cross-attention; the prompt marks them with <fake_token_around_image><image> tokens and
  every text token may attend to every frame.
- video_llama (Video-LLaVA): a vision tower encodes each frame and a projector turns its patch
  features into tokens that take the place of <video> placeholders in the prompt.
Only caption tokens (and the EOS that ends them) are trained on. Reports eval_loss and perplexity
per epoch; at the end, greedy captions for a few validation clips (log lines, samples.json).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Dict, List, Tuple

import torch
import torch.nn.functional as F

from trainyard_common import peft_utils as PU
from trainyard_common import protocol as tp
from trainyard_common import torch_utils as tu

from . import data as D
from . import models as M
from .loop import Loop

IGNORE = -100
PROMPT = "Describe the video."
SAMPLES = 3
MAX_NEW_TOKENS = 24

DEFAULTS: Dict[str, Any] = {
    "epochs": 3, "learning_rate": 2e-4, "batch_size": 2, "lora_rank": 16, "lora_alpha": 32, "lora_dropout": 0.05,
    "target_modules": ["q_proj", "v_proj"], "quantization": "4bit", "num_frames": 8, "frame_size": None,
    "validation_split": 0.2, "warmup_ratio": 0.0, "checkpoint_every": 50, "seed": 42,
}

USAGE = """Architecture: {arch}; quantization used in training: {quantization}; {num_frames} frames of {frame_size}x{frame_size}.

```python
from transformers import {cls}, AutoTokenizer
from peft import PeftModel

BASE = "path/to/base-model"  # the Trainyard base model `{base}`
model = PeftModel.from_pretrained({cls}.from_pretrained(BASE), "path/to/this/folder").eval()
```
Prompt layout and frame normalisation: see prompt.json. Sample captions: samples.json."""


def _perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else float("inf")


class Prompter:
    """Builds each architecture's prompt around the frames, and the model inputs for a batch."""

    def __init__(self, arch: str, tokenizer, config, num_frames: int, size: int):
        self.arch, self.tok, self.num_frames = arch, tokenizer, num_frames
        if tokenizer.eos_token_id is None:
            raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", "the base model's tokenizer has no EOS token")
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        text = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
        if arch == "flamingo":
            frames = "<fake_token_around_image>" + "<image><fake_token_around_image>" * num_frames
            self.prompt = bos + text(frames) + text(PROMPT + "\nCaption:")
        else:
            vc = config.vision_config
            patches = (size // int(vc.patch_size)) ** 2 + 1  # the frame's patches and its CLS token
            self.prompt = bos + text("USER: ") + [int(config.video_token_id)] * (num_frames * patches) + \
                text("\n" + PROMPT + " ASSISTANT:")

    def example(self, caption: str) -> Tuple[List[int], List[int]]:
        target = self.tok(" " + caption, add_special_tokens=False)["input_ids"] + [self.tok.eos_token_id]
        return self.prompt + target, [IGNORE] * len(self.prompt) + target

    def inputs(self, ids: List[List[int]], frames: torch.Tensor, dev, dtype) -> Dict[str, torch.Tensor]:
        width = max(len(i) for i in ids)
        input_ids = torch.full((len(ids), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for r, seq in enumerate(ids):
            input_ids[r, :len(seq)] = torch.tensor(seq)
            mask[r, :len(seq)] = 1
        out = {"input_ids": input_ids.to(dev), "attention_mask": mask.to(dev)}
        if self.arch == "flamingo":
            out["pixel_values"] = frames.to(dev, dtype)
            out["image_attention_mask"] = mask[:, :, None].expand(-1, -1, self.num_frames).contiguous().to(dev)
        else:
            out["pixel_values_videos"] = frames.to(dev, dtype)
        return out


def main() -> None:
    from transformers import AutoConfig, AutoTokenizer, IdeficsForVisionText2Text, VideoLlavaForConditionalGeneration

    spec = tp.load_spec()
    stop = tp.StopFlag()
    hp = {**DEFAULTS, **(spec.get("hyperparameters") or {})}
    tu.seed_everything(int(hp["seed"]))
    base = tu.base_model_path(spec)
    arch = M.architecture(base, ("flamingo", "video_llama"))
    dev = tu.device()
    config = AutoConfig.from_pretrained(base)
    num_frames = int(hp["num_frames"])
    size = int(hp["frame_size"] or M.native_size(config))
    if size != M.native_size(config):
        # CLIP-style towers have learned position embeddings for one size.
        raise tp.TrainerError("INVALID_HYPERPARAMETERS", f"this base model takes frames of {M.native_size(config)}x{M.native_size(config)}; "
                              "leave frame_size out or set it to that")
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
    except Exception as e:  # a folder without a usable tokenizer is the base model's problem
        raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", f"cannot load a tokenizer from {base}: {e}")
    prompter = Prompter(arch, tokenizer, config, num_frames, size)
    mean, std = M.mean_std(base, arch)

    with tempfile.TemporaryDirectory() as work:
        inputs = spec["inputs"]
        clips = D.read_dataset(inputs["dataset"], work, "caption")
        if inputs.get("validation_dataset"):
            train, val = clips, D.read_dataset(inputs["validation_dataset"], os.path.join(work, "val"), "caption")
        else:
            train, val = D.split(clips, float(hp["validation_split"]), int(hp["seed"]), by_label=False)
        tp.log(f"decoding {len(train) + len(val)} clips: {num_frames} frames of {size}x{size}")
        x_train = torch.stack([D.normalize(D.decode(c.path, num_frames, size, c.frames), mean, std) for c in train])
        x_val = torch.stack([D.normalize(D.decode(c.path, num_frames, size, c.frames), mean, std) for c in val])

    cls = IdeficsForVisionText2Text if arch == "flamingo" else VideoLlavaForConditionalGeneration
    model, quantization = PU.load_frozen(cls, base, hp["quantization"], dev, skip=["lm_head", "multi_modal_projector"])
    model = PU.adapt(model, spec, hp)
    trainable, total_params = model.get_nb_trainable_parameters()
    tp.log(f"{arch} ({cls.__name__}), {quantization} base, {trainable:,} trainable of {total_params:,} parameters; "
           f"{len(train)} training clips, {len(val)} validation clips")

    loop = CaptionLoop(spec, hp, model, dev, prompter, x_train, [prompter.example(c.caption) for c in train],
                       x_val, [prompter.example(c.caption) for c in val], stop)
    loop.run()

    samples = [{"file": c.file, "reference": c.caption, "generated": loop.generate(x_val[i])}
               for i, c in enumerate(val[:SAMPLES])]
    for s in samples:
        tp.log(f"sample caption for {s['file']}: {s['generated']!r} (reference: {s['reference']!r})")

    out = spec["output_dir"]
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    with open(os.path.join(out, "samples.json"), "w", encoding="utf-8") as f:
        json.dump(samples, f, indent=2)
    with open(os.path.join(out, "prompt.json"), "w", encoding="utf-8") as f:
        json.dump({"architecture": arch, "prompt_ids": prompter.prompt, "prompt_text": tokenizer.decode(prompter.prompt),
                   "num_frames": num_frames, "frame_size": size, "image_mean": mean, "image_std": std}, f)
    metrics = loop.result_metrics()
    tu.write_model_card(os.path.join(out, "README.md"), f"LoRA adapter (video captioning, {arch})", spec, metrics,
                        USAGE.format(base=(spec.get("base_model") or {}).get("id", "?"), arch=arch, quantization=quantization,
                                     num_frames=num_frames, frame_size=size, cls=cls.__name__))
    for name, fmt in (("adapter_config.json", "peft-adapter-config"), ("adapter_model.safetensors", "safetensors-peft"),
                      ("samples.json", "sample-captions"), ("prompt.json", "prompt-format"), ("README.md", "model-card")):
        tp.artifact(name, os.path.join(out, name), fmt)
    tp.result(metrics, {"clips_train": len(train), "clips_eval": len(val), "architecture": arch,
                        "quantization_used": quantization, "trainable_params": trainable, "total_params": total_params,
                        "total_steps": loop.total_steps, "sample_captions": samples, "warm_start": bool(spec.get("init_from"))})


class CaptionLoop(Loop):
    eval_key = "eval_loss"

    def __init__(self, spec, hp, model, dev, prompter: Prompter, x_train, train_ex, x_val, val_ex, stop):
        super().__init__(spec, hp, model, dev, len(train_ex), stop)
        self.prompter, self.x_train, self.train_ex, self.x_val, self.val_ex = prompter, x_train, train_ex, x_val, val_ex
        self.dtype = getattr(model, "dtype", torch.float32)
        if not self.dtype.is_floating_point:
            self.dtype = torch.bfloat16

    def _loss_sum(self, frames: torch.Tensor, examples: List[Tuple[List[int], List[int]]]):
        batch = self.prompter.inputs([ids for ids, _ in examples], frames, self.dev, self.dtype)
        labels = torch.full(batch["input_ids"].shape, IGNORE, dtype=torch.long)
        for r, (_, lab) in enumerate(examples):
            labels[r, :len(lab)] = torch.tensor(lab)
        logits = self.model(**batch).logits[:, :-1].float()
        labels = labels[:, 1:].to(self.dev)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE, reduction="sum")
        return loss, int((labels != IGNORE).sum())

    def loss(self, items: List[int]):
        return self._loss_sum(self.x_train[items], [self.train_ex[i] for i in items])

    def evaluate(self) -> Dict[str, float]:
        total, n = 0.0, 0
        for j in range(0, len(self.val_ex), self.batch_size):
            s, c = self._loss_sum(self.x_val[j:j + self.batch_size], self.val_ex[j:j + self.batch_size])
            total, n = total + float(s), n + c
        loss = total / max(1, n)
        return {"eval_loss": loss, "perplexity": _perplexity(loss)}

    def result_metrics(self) -> Dict[str, float]:
        m = super().result_metrics()
        m["first_perplexity"] = _perplexity(m["first_eval_loss"])
        return m

    @torch.no_grad()
    def generate(self, frames: torch.Tensor) -> str:
        """Greedy decoding without a cache: a few short samples, the same code for both architectures."""
        self.model.eval()
        ids = list(self.prompter.prompt)
        eos = self.prompter.tok.eos_token_id
        for _ in range(MAX_NEW_TOKENS):
            batch = self.prompter.inputs([ids], frames[None], self.dev, self.dtype)
            nxt = int(self.model(**batch).logits[0, -1].argmax())
            if nxt == eos:
                break
            ids.append(nxt)
        return self.prompter.tok.decode(ids[len(self.prompter.prompt):], skip_special_tokens=True).strip()


if __name__ == "__main__":
    tp.main_guard(main)
