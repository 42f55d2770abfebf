"""lora-causal-lm rows: the pack's own training (its main(), as the worker runs it, with a step clock
around Loop._step) against a plain PEFT + Transformers `Trainer` on the same random-initialised
model, the same tokenized conversations, LoRA rank/targets, batch and sequence length.

Tokens/s counts real tokens (attention mask), not padding, on both sides."""
from __future__ import annotations

import json
import os
import random
import sys
from typing import Any, Dict, List

from common import SIZES, Peak, StepClock, device, write_row

import torch

WORDS = ("the quick brown fox jumps over the lazy dog what is capital of France Paris please answer question "
         "one word colour sky blue grass green sun yellow hello how are you today fine thank asking translate "
         "apple banana cherry grape lemon mango orange peach pear plum Monday Tuesday January model token").split()

# The pack's defaults that matter for speed, written out so both sides get the same.
LORA = {"lora_rank": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"]}


def prepare(size: str, folder: str) -> None:
    """The model folder (random weights of the size's architecture, the pack's tiny byte-level BPE
    tokenizer with a chat template) and the conversations, train and validation."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from trainyard_lora_causal_lm.tiny import build_tokenizer

    s = SIZES[size]
    tok = build_tokenizer()
    cfg = LlamaConfig(**s["llama"], bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    dev = device()
    # Initialised on the GPU when there is one: 1.2 B parameters take a minute on the CPU.
    with torch.device(dev):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16 if dev.type == "cuda" else torch.float32)
    model.save_pretrained(os.path.join(folder, "model"))
    tok.save_pretrained(os.path.join(folder, "model"))
    rnd = random.Random(1)

    def conversation() -> Dict[str, Any]:
        lo, hi = s["words"]
        q = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 30)))
        a = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(lo, hi)))
        return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}

    for name, n in (("train", s["conversations"]), ("ablation", s["ablation_conversations"]), ("val", 4)):
        with open(os.path.join(folder, f"{name}.jsonl"), "w") as f:
            for _ in range(n):
                f.write(json.dumps(conversation()) + "\n")


def _files(folder: str, name: str) -> Dict[str, Any]:
    return {"files": [{"path": os.path.join(folder, f"{name}.jsonl"), "filename": f"{name}.jsonl"}]}


def pack(size: str, folder: str, out: str, config: str, data: str, hp: Dict[str, Any], fp32: bool = False) -> None:
    from trainyard_common import protocol as tp
    from trainyard_lora_causal_lm import train

    s = SIZES[size]
    dev = device()
    job = os.path.join(folder, f"job-{os.getpid()}")
    spec = {
        "protocol": 1, "job_id": "bench", "trainer": "lora-causal-lm", "output_dir": os.path.join(job, "out"),
        "checkpoint_dir": os.path.join(job, "ckpt"), "base_model": {"id": "llama-3.2-1b-random", "path": os.path.join(folder, "model")},
        "inputs": {"dataset": _files(folder, data), "validation_dataset": _files(folder, "val")},
        "hyperparameters": {**LORA, "epochs": 1, "batch_size": s["batch"], "gradient_accumulation_steps": 1,
                            "max_seq_length": s["seq_len"], "checkpoint_every": 10**6, **hp},
    }
    os.makedirs(job, exist_ok=True)
    with open(os.path.join(job, "spec.json"), "w") as f:
        json.dump(spec, f)

    clock, peak, seen = StepClock(dev, s["warmup_steps"]), Peak(dev), {"peak": 0.0, "steps": 0}
    step = train.Loop._step

    def timed_step(self, window, epoch):
        if clock.start is None:
            peak.reset()
            clock.begin()
        step(self, window, epoch)
        clock.step(sum(len(ids) for b in window for ids, _ in b))
        seen["peak"], seen["steps"] = peak.mb(), seen["steps"] + 1

    result: Dict[str, Any] = {}
    saved = (train.Loop._step, tp.result, torch.cuda.is_bf16_supported)
    train.Loop._step = timed_step
    tp.result = lambda metrics, details=None: result.update(details or {})
    if fp32:  # the pack loads bf16 weights where the GPU has bf16; this row measures what that buys
        torch.cuda.is_bf16_supported = lambda *a, **k: False
    sys.argv = ["trainyard_lora_causal_lm", "--spec", os.path.join(job, "spec.json")]
    try:
        train.main()
    finally:  # rows may share a process (the CPU smoke run)
        train.Loop._step, tp.result, torch.cuda.is_bf16_supported = saved
    write_row(out, "lora-causal-lm", config, "pack", "tokens/s", clock.rate(), peak, seen["peak"], seen["steps"],
              f"{result.get('quantization_used')}, {result.get('sequences_train')} sequences")


def baseline(size: str, folder: str, out: str, config: str, data: str, quantization: str) -> None:
    """PEFT + Trainer as its docs show it: padding to the longest in the batch, no packing; for
    QLoRA, prepare_model_for_kbit_training (gradient checkpointing on, its default)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainerCallback,
                              TrainingArguments)
    from trainyard_lora_causal_lm import data as D

    s = SIZES[size]
    dev = device()
    cuda = dev.type == "cuda"
    base = os.path.join(folder, "model")
    tok = AutoTokenizer.from_pretrained(base)
    opts: Dict[str, Any] = {"dtype": torch.bfloat16 if cuda else torch.float32, "attn_implementation": "sdpa"}
    used = "none"
    if quantization == "4bit" and cuda:
        from transformers import BitsAndBytesConfig
        opts.update(device_map={"": torch.cuda.current_device()}, quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16))
        used = "4bit-nf4"
    model = AutoModelForCausalLM.from_pretrained(base, **opts)
    model.config.use_cache = False
    if used == "4bit-nf4":
        model = prepare_model_for_kbit_training(model)
    model = get_peft_model(model, LoraConfig(r=LORA["lora_rank"], lora_alpha=LORA["lora_alpha"], lora_dropout=LORA["lora_dropout"],
                                             target_modules=LORA["target_modules"], bias="none", task_type="CAUSAL_LM"))
    # The same tokenization and assistant-only labels as the pack, so both train on identical tokens.
    rows = D.read_jsonl(_files(folder, data)["files"])
    examples = D.truncate(D.tokenize(rows, D.Formatter(tok)), s["seq_len"])
    dataset = [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels} for ids, labels in examples]
    collate = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=D.IGNORE)
    tokens: List[int] = []  # real tokens of each batch, in the order the loader builds them

    def counting(features):
        batch = collate(features)
        tokens.append(int(batch["attention_mask"].sum()))
        return batch

    clock, peak, seen = StepClock(dev, s["warmup_steps"]), Peak(dev), {"peak": 0.0, "steps": 0}

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if clock.start is None:
                peak.reset()
                clock.begin()

        def on_step_end(self, args, state, control, **kw):
            clock.step(tokens[seen["steps"]])
            seen["peak"], seen["steps"] = peak.mb(), seen["steps"] + 1

    args = TrainingArguments(
        output_dir=os.path.join(folder, f"trainer-{os.getpid()}"), per_device_train_batch_size=s["batch"],
        gradient_accumulation_steps=1, num_train_epochs=1, learning_rate=2e-4, lr_scheduler_type="linear", warmup_steps=1,
        weight_decay=0.0, max_grad_norm=1.0, bf16=cuda, use_cpu=not cuda, logging_steps=10**6, save_strategy="no",
        report_to=[], disable_tqdm=True, dataloader_num_workers=0, seed=42)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=counting, callbacks=[Clock()])
    trainer.train()
    write_row(out, "lora-causal-lm", config, "baseline", "tokens/s", clock.rate(), peak, seen["peak"], seen["steps"],
              f"{used}, {len(examples)} sequences, Trainer optim {getattr(args.optim, 'value', args.optim)}")
