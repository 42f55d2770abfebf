"""
`python -m trainyard_lora_causal_lm.tiny OUT_DIR [--seed N]` builds a tiny, randomly initialised
Llama-style causal LM and its tokenizer in OUT_DIR, for tests and local smoke runs: nothing is
downloaded. The tokenizer is a byte-level BPE trained here on a small built-in corpus (so any
text encodes) with bos/eos/pad tokens and a chat template, so AutoTokenizer.from_pretrained and
apply_chat_template behave as they do for a real chat model. Prints one JSON line
{"path": OUT_DIR, "architecture": "llama"}.
"""
from __future__ import annotations

import argparse
import json
import os

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]

# One turn per message, each closed by EOS so a fine-tuned model learns where its answer stops.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{{ message['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? The capital of France is Paris.",
    "Please answer the question in one word.",
    "The colour of the sky is blue, the grass is green and the sun is yellow.",
    "You are a helpful assistant. Answer briefly and politely.",
    "One two three four five six seven eight nine ten.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 3.14 -42 +7 = % / * ( ) [ ] { } < > : ; , . ! ? ' \"",
    "Hello, how are you today? I am fine, thank you for asking.",
    "Translate the following sentence into French: the cat sleeps on the mat.",
    "A language model predicts the next token from the previous tokens.",
    "Fine-tuning adapts a pretrained model to a new task with a small dataset.",
    "def add(a, b):\n    return a + b\n",
    '{"messages": [{"role": "user", "content": "hi"}], "text": "plain"}',
    "apple banana cherry grape lemon mango orange peach pear plum",
    "red orange yellow green blue indigo violet black white grey",
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "January February March April May June July August September October November December",
]


def build_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=640,
        special_tokens=[BOS, EOS, PAD, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # A few repetitions give the frequent words merges without making training slow.
    tok.train_from_iterator(CORPUS * 8, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    fast.add_special_tokens({"additional_special_tokens": ROLE_TOKENS})
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build(out_dir: str, seed: int = 0) -> str:
    os.makedirs(out_dir, exist_ok=True)
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        # Wider than the usual 0.02: the frozen tied embeddings then span a logit range wide
        # enough for a small adapter to move the loss visibly in a few steps.
        initializer_range=0.2,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    path = build(os.path.abspath(args.out_dir), args.seed)
    print(json.dumps({"path": path, "architecture": "llama"}), flush=True)


if __name__ == "__main__":
    main()
