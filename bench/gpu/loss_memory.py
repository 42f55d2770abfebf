"""The chunked loss's memory on the CPU: one training step (forward and backward) of the
lora-causal-lm pack's loss on a Llama with Llama-3's 128,256-token vocabulary but only 2 narrow
layers, so the logits dominate as they do at full size, chunked and from the full logits, each in
a process of its own; peak RSS from the step's start (the weights and the batch already loaded).

    python bench/gpu/loss_memory.py [--batch 2] [--seq 1024] [--hidden 256]

bench/gpu.sh's ablation row "loss from the full logits" measures the same on a GPU at full size."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def step(chunked: bool, batch: int, seq: int, hidden: int) -> dict:
    sys.path.insert(0, HERE)
    from common import Peak  # noqa: F401  (puts trainers/python on the path)
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
    from trainyard_lora_causal_lm import train

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=128256, hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=seq, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    for p in model.parameters():
        p.requires_grad_(False)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]))
    ids = torch.randint(0, 128256, (batch, seq))
    labels = ids.clone()
    labels[:, :64] = -100  # a prompt
    b = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    hp = {**train.DEFAULTS, "chunked_loss": chunked, "epochs": 1}
    loop = train.Loop({}, hp, model, torch.device("cpu"), 0, [([1, 2], [1, 2])], [], None)
    loop.chunked_checked = True  # the agreement check runs a full-logits forward: not what is measured here
    model.train()
    peak = Peak(torch.device("cpu"))
    before = peak.mb()
    peak.reset()
    t0 = time.perf_counter()
    loss = loop._loss_sum(b)
    (loss / int((labels[:, 1:] != -100).sum())).backward()
    return {"chunked": chunked, "loss": float(loss.detach()), "peak_mb": peak.mb(), "rss_before_mb": before,
            "step_s": time.perf_counter() - t0, "logits_fp32_mb": batch * seq * 128256 * 4 / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--one", choices=["on", "off"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        out = os.fdopen(os.dup(1), "w")  # the pack's protocol module takes fd 1 for its events
        print(json.dumps(step(a.one == "on", a.batch, a.seq, a.hidden)), file=out, flush=True)
        return
    rows = []
    for one in ("off", "on"):
        out = subprocess.run([sys.executable, __file__, "--one", one, "--batch", str(a.batch), "--seq", str(a.seq),
                              "--hidden", str(a.hidden)], check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"batch {a.batch} x {a.seq} tokens, vocabulary 128,256, hidden {a.hidden}, 2 layers, fp32 on the CPU "
          f"(one fp32 copy of the logits: {rows[0]['logits_fp32_mb']:,.0f} MB)\n")
    print("| loss | peak RSS during the step (above the RSS before it) | step s | loss value |\n|---|---|---|---|")
    for r in rows:
        print(f"| {'chunked' if r['chunked'] else 'full logits'} | {r['peak_mb']:,.0f} MB (+{r['peak_mb'] - r['rss_before_mb']:,.0f}) "
              f"| {r['step_s']:.2f} | {r['loss']:.4f} |")


if __name__ == "__main__":
    main()
