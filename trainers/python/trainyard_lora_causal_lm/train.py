"""
Supervised fine-tuning of a causal language model with a PEFT LoRA adapter (QLoRA: 4-bit NF4
base weights, when CUDA is present and quantization is "4bit").

A plain PyTorch loop: AdamW over the adapter, linear warmup then linear decay, gradient
accumulation, gradient clipping at 1.0. The loss is the mean over trained tokens of an
optimizer step (not of each micro-batch), so accumulation does not change what is optimized.
Evaluation runs once before the first step (first_eval_loss, so "did it learn" is checkable)
and at the end of every epoch. Checkpoints hold the adapter, optimizer, scheduler and position.
"""
from __future__ import annotations

import math
import os
import random
import sys
import time
from typing import Any, Dict, List, Tuple

from trainyard_common import protocol as tp
from trainyard_common import peft_utils as PU
from trainyard_common import torch_utils as tu

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

from . import data as D
from .loss import ChunkedLoss, full_loss_sum

# Defaults of the catalog's schema, and of the optional parameters it may not list.
DEFAULTS: Dict[str, Any] = {
    "epochs": 3, "learning_rate": 2e-4, "batch_size": 4, "gradient_accumulation_steps": 4,
    "lora_rank": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"],
    "max_seq_length": 1024, "packing": False, "quantization": "4bit", "validation_split": 0.1,
    "warmup_ratio": 0.03, "checkpoint_every": 100, "seed": 42,
    # Speed choices, measured by bench/gpu.sh. gradient_checkpointing None = on only with 4-bit
    # (PEFT's QLoRA recipe); fused AdamW applies on CUDA only; torch.compile pays on long runs.
    "gradient_checkpointing": None, "attn_implementation": "sdpa", "fused_adamw": True, "torch_compile": False,
    # The loss chunk by chunk over trained tokens (loss.py): the same loss without the logits tensor.
    "chunked_loss": True,
}

USAGE = """Quantization used in training: {quantization}.

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel

BASE = "path/to/base-model"  # the Trainyard base model `{base}`
base = AutoModelForCausalLM.from_pretrained(BASE)
tokenizer = AutoTokenizer.from_pretrained(BASE)
model = PeftModel.from_pretrained(base, "path/to/this/folder")
messages = [{{"role": "user", "content": "Hello!"}}]
inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
print(tokenizer.decode(model.generate(**inputs, max_new_tokens=64)[0]))
```"""


def main() -> None:
    spec = tp.load_spec()
    stop = tp.StopFlag()
    hp = {**DEFAULTS, **(spec.get("hyperparameters") or {})}
    tu.seed_everything(int(hp["seed"]))
    base = tu.base_model_path(spec)
    dev = tu.device()

    tokenizer = _load_tokenizer(base)
    train_seqs, eval_seqs, counts = _datasets(spec, hp, tokenizer)
    model, quantization = PU.load_frozen(AutoModelForCausalLM, base, hp["quantization"], dev, what="a causal language model",
                                         gradient_checkpointing=hp["gradient_checkpointing"],
                                         attn_implementation=str(hp["attn_implementation"]))
    model = PU.adapt(model, spec, hp, task_type="CAUSAL_LM")
    trainable, total_params = model.get_nb_trainable_parameters()
    tp.log(f"{quantization} base, {trainable:,} trainable of {total_params:,} parameters; "
           f"{len(train_seqs)} training sequences, {len(eval_seqs)} validation examples")

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    loop = Loop(spec, hp, model, dev, pad_id, train_seqs, eval_seqs, stop)
    loop.run()

    out = spec["output_dir"]
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    metrics = loop.result_metrics()
    # PEFT writes its own README.md; ours replaces it.
    tu.write_model_card(os.path.join(out, "README.md"), "LoRA adapter (causal LM)", spec, metrics,
                        USAGE.format(base=(spec.get("base_model") or {}).get("id", "?"), quantization=quantization))
    for name, fmt in (("adapter_config.json", "peft-adapter-config"),
                      ("adapter_model.safetensors", "safetensors-peft"),
                      ("README.md", "model-card")):
        tp.artifact(name, os.path.join(out, name), fmt)
    tp.result(metrics, {**counts, "quantization_used": quantization, "trainable_params": trainable,
                        "total_params": total_params, "total_steps": loop.total_steps,
                        "warm_start": bool(spec.get("init_from"))})


def _load_tokenizer(base: str):
    try:
        tok = AutoTokenizer.from_pretrained(base)
    except Exception as e:  # a folder without a usable tokenizer is the base model's problem
        raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", f"cannot load a tokenizer from {base}: {e}")
    if not getattr(tok, "is_fast", False):
        # Assistant-only labels need character offsets, which only fast tokenizers give.
        raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", "the base model needs a fast tokenizer (tokenizer.json)")
    return tok


def _datasets(spec: Dict[str, Any], hp: Dict[str, Any], tokenizer) -> Tuple[List[D.Example], List[D.Example], Dict[str, int]]:
    inputs = spec["inputs"]
    rows = D.read_jsonl(inputs["dataset"]["files"])
    if inputs.get("validation_dataset"):
        train_rows, eval_rows = rows, D.read_jsonl(inputs["validation_dataset"]["files"])
    else:
        train_rows, eval_rows = D.split(rows, float(hp["validation_split"]), int(hp["seed"]))
    fmt = D.Formatter(tokenizer)
    if not fmt.has_template:
        tp.log("the tokenizer has no chat template: conversations use the '### Role:' fallback template", "warn")
    max_len = int(hp["max_seq_length"])
    train_ex = D.tokenize(train_rows, fmt)
    # Validation is never packed, so eval_loss compares across packing settings.
    eval_seqs = D.truncate(D.tokenize(eval_rows, fmt), max_len)
    train_seqs = D.pack(train_ex, max_len, tokenizer.eos_token_id) if hp["packing"] else D.truncate(train_ex, max_len)
    skipped = (0 if hp["packing"] else len(train_ex) - len(train_seqs)) + len(eval_rows) - len(eval_seqs)
    if skipped:
        tp.log(f"{skipped} examples have no assistant tokens within max_seq_length={max_len} and were skipped", "warn")
    if not train_seqs:
        raise tp.TrainerError("NO_TRAINABLE_TOKENS", f"no training example has assistant tokens within max_seq_length={max_len}")
    if not eval_seqs:
        raise tp.TrainerError("NO_TRAINABLE_TOKENS", f"no validation example has assistant tokens within max_seq_length={max_len}")
    counts = {"examples_train": len(train_rows), "examples_eval": len(eval_rows), "sequences_train": len(train_seqs)}
    return train_seqs, eval_seqs, counts




def _perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else float("inf")


class Loop:
    """The training loop and everything a checkpoint must restore to continue it."""

    def __init__(self, spec, hp, model, dev, pad_id, train_seqs, eval_seqs, stop):
        self.spec, self.model, self.dev, self.pad_id, self.stop = spec, model, dev, pad_id, stop
        self.train_seqs, self.eval_seqs = train_seqs, eval_seqs
        self.epochs = int(hp["epochs"])
        self.batch_size = int(hp["batch_size"])
        self.accum = int(hp["gradient_accumulation_steps"])
        self.checkpoint_every = max(1, int(hp["checkpoint_every"]))
        self.seed = int(hp["seed"])
        self.steps_per_epoch = math.ceil(math.ceil(len(train_seqs) / self.batch_size) / self.accum)
        self.total_steps = self.epochs * self.steps_per_epoch
        self.params = [p for p in model.parameters() if p.requires_grad]
        # Fused AdamW: one kernel for all adapter tensors instead of several per tensor (CUDA only).
        fused = bool(hp["fused_adamw"]) and dev.type == "cuda"
        self.optimizer = torch.optim.AdamW(self.params, lr=float(hp["learning_rate"]), weight_decay=0.0, fused=fused or None)
        # The compiled module shares the model's parameters; saving and PEFT calls keep using the model.
        self.forward = torch.compile(model) if hp["torch_compile"] else model
        # None: the loss from the full logits (a model whose logits are not plainly lm_head(hidden)).
        self.chunked = ChunkedLoss.for_model(model) if hp["chunked_loss"] else None
        self.chunked_checked = self.chunked is None
        self.decoder = (torch.compile(self.chunked.decoder) if hp["torch_compile"] else self.chunked.decoder) if self.chunked else None
        warmup = int(round(float(hp["warmup_ratio"]) * self.total_steps))
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.total_steps)
        # Position and running sums: all a resumed run needs to report as if it never stopped.
        self.pos: Dict[str, Any] = {"step": 0, "first_eval_loss": None, "eval_loss": None, "train_loss": None,
                                    "epoch_loss_sum": 0.0, "epoch_label_tokens": 0, "tokens": 0,
                                    "step_time": 0.0, "train_time": 0.0}

    def run(self) -> None:
        self._resume()
        if self.pos["first_eval_loss"] is None:
            first = self.evaluate()
            self.pos["first_eval_loss"] = first
            tp.metrics(0, {"eval_loss": first, "perplexity": _perplexity(first)}, epoch=0)
        self.model.train()
        while self.pos["step"] < self.total_steps:
            epoch = self.pos["step"] // self.steps_per_epoch
            for window in self._windows(epoch)[self.pos["step"] % self.steps_per_epoch:]:
                self._step(window, epoch)
                step = self.pos["step"]
                if step % self.steps_per_epoch == 0:
                    self._end_epoch(epoch)
                if step < self.total_steps and (self.stop.requested or step % self.checkpoint_every == 0):
                    self._checkpoint()
                    if self.stop.requested:
                        tp.log(f"stopped at step {step} of {self.total_steps}; resume continues from the checkpoint", "warn")
                        sys.exit(143)

    def _windows(self, epoch: int) -> List[List[List[D.Example]]]:
        """The epoch's optimizer steps, each a list of micro-batches; the order depends only on seed and epoch."""
        order = list(range(len(self.train_seqs)))
        random.Random(self.seed * 100_003 + epoch).shuffle(order)
        batches = [[self.train_seqs[i] for i in order[j:j + self.batch_size]] for j in range(0, len(order), self.batch_size)]
        return [batches[j:j + self.accum] for j in range(0, len(batches), self.accum)]

    def _step(self, window: List[List[D.Example]], epoch: int) -> None:
        t0 = time.time()
        batches = [D.collate(b, self.pad_id) for b in window]
        label_tokens = sum(int((b["labels"][:, 1:] != D.IGNORE).sum()) for b in batches)
        loss_sum = 0.0
        for b in batches:
            s = self._loss_sum(b)
            (s / label_tokens).backward()
            loss_sum += float(s.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        elapsed = time.time() - t0
        p = self.pos
        p["step"] += 1
        p["epoch_loss_sum"] += loss_sum
        p["epoch_label_tokens"] += label_tokens
        p["tokens"] += sum(int(b["attention_mask"].sum()) for b in batches)
        p["step_time"] += elapsed
        p["train_time"] += elapsed
        fraction = p["step"] / self.steps_per_epoch
        tp.progress(p["step"], self.total_steps, epoch=fraction, total_epochs=self.epochs)
        tp.metrics(p["step"], {"loss": loss_sum / label_tokens, "lr": lr, "grad_norm": float(grad_norm)}, epoch=fraction)

    def _end_epoch(self, epoch: int) -> None:
        t0 = time.time()
        p = self.pos
        p["train_loss"] = p["epoch_loss_sum"] / max(1, p["epoch_label_tokens"])
        p["epoch_loss_sum"], p["epoch_label_tokens"] = 0.0, 0
        p["eval_loss"] = self.evaluate()
        self.model.train()
        p["train_time"] += time.time() - t0
        tp.metrics(p["step"], {"eval_loss": p["eval_loss"], "perplexity": _perplexity(p["eval_loss"]),
                               "train_loss": p["train_loss"]}, epoch=epoch + 1)
        tp.log(f"epoch {epoch + 1}/{self.epochs}: train_loss {p['train_loss']:.4f}, eval_loss {p['eval_loss']:.4f}")

    def _loss_sum(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Summed cross-entropy of the next-token predictions on trained (label != -100) tokens."""
        batch = {k: v.to(self.dev) for k, v in batch.items()}
        if not self.chunked_checked:
            self._check_chunked(batch)
        if self.chunked is not None:
            return self.chunked(batch["input_ids"], batch["attention_mask"], batch["labels"], decoder=self.decoder)
        return full_loss_sum(self.forward, batch)

    def _check_chunked(self, batch: Dict[str, torch.Tensor]) -> None:
        """Trusts the chunked loss only once it equals the full-logits loss on a real row (eval mode: no dropout)."""
        self.chunked_checked = True
        training = self.model.training
        self.model.eval()
        row = {k: v[:1] for k, v in batch.items()}
        if self.chunked.agrees(self.model, row):
            tp.log(f"loss: output layer and cross-entropy in chunks of {self.chunked.chunk} trained tokens")
        else:
            tp.log("loss: the chunked loss disagrees with the model's logits; using the full logits", "warn")
            self.chunked = self.decoder = None
        self.model.train(training)

    @torch.no_grad()
    def evaluate(self) -> float:
        self.model.eval()
        total, n = 0.0, 0
        for j in range(0, len(self.eval_seqs), self.batch_size):
            batch = D.collate(self.eval_seqs[j:j + self.batch_size], self.pad_id)
            total += float(self._loss_sum(batch))
            n += int((batch["labels"][:, 1:] != D.IGNORE).sum())
        return total / max(1, n)

    def _checkpoint(self) -> None:
        PU.save_adapter_checkpoint(self.spec, self.pos["step"], self.model, self.optimizer, self.scheduler, self.total_steps, self.pos)

    def _resume(self) -> None:
        position = PU.resume_adapter_checkpoint(self.spec, self.model, self.optimizer, self.scheduler, self.total_steps)
        if position is not None:
            self.pos.update(position)

    def result_metrics(self) -> Dict[str, float]:
        p = self.pos
        return {
            "eval_loss": p["eval_loss"],
            "perplexity": _perplexity(p["eval_loss"]),
            "train_loss": p["train_loss"],
            "first_eval_loss": p["first_eval_loss"],
            "tokens_per_second": p["tokens"] / max(p["step_time"], 1e-9),
            "train_time_s": p["train_time"],
        }
