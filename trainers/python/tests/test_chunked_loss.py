"""
The chunked loss (trainyard_lora_causal_lm/loss.py) against the full-logits loss it replaces, on a
tiny random Llama with a LoRA adapter: the same loss and the same adapter gradients, several
chunks per batch, prompts and padding left out; and the models it must refuse.
Run: PYTHONPATH=trainers/python python -m pytest trainers/python/tests/test_chunked_loss.py
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from trainyard_lora_causal_lm.loss import IGNORE, ChunkedLoss

torch.set_num_threads(1)


def tiny(targets=("q_proj", "v_proj"), **config):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True, **config)
    base = LlamaForCausalLM(cfg)
    for p in base.parameters():
        p.requires_grad_(False)
    return get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=list(targets)))


def batch():
    """Three rows, right-padded; labels only on the 'answers' (the rest is prompt or padding)."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 96, (3, 20), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 14:] = 0
    mask[2, 9:] = 0
    labels = ids.clone()
    labels[:, :6] = IGNORE  # prompts
    labels[mask == 0] = IGNORE
    labels[0, 12:15] = IGNORE  # a packed-in neighbour's prompt
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def full_loss(model, b):
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1].float()
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), b["labels"][:, 1:].reshape(-1), ignore_index=IGNORE, reduction="sum")


def lora_grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_same_loss_and_gradients_as_the_full_logits():
    model, b = tiny(), batch()
    model.train()
    chunked = ChunkedLoss.for_model(model)
    assert chunked is not None
    chunked.chunk = 7  # 22 trained tokens: four chunks, the last one partial
    trained = int((b["labels"][:, 1:] != IGNORE).sum())
    assert trained == 22

    ref = full_loss(model, b)
    (ref / trained).backward()
    ref_grads = lora_grads(model)
    model.zero_grad(set_to_none=True)

    ours = chunked(b["input_ids"], b["attention_mask"], b["labels"])
    (ours / trained).backward()
    grads = lora_grads(model)

    assert float(ours) == pytest.approx(float(ref), rel=1e-5)
    assert set(grads) == set(ref_grads) and len(grads) == 8  # A and B of q_proj and v_proj in two layers
    for name, g in grads.items():
        assert torch.allclose(g, ref_grads[name], rtol=1e-4, atol=1e-7), name
    assert any(float(g.abs().sum()) > 0 for g in grads.values())
    model.eval()
    assert chunked.agrees(model, b)


def test_no_trained_tokens_is_a_zero_loss():
    model, b = tiny(), batch()
    b["labels"][:] = IGNORE
    loss = ChunkedLoss.for_model(model)(b["input_ids"], b["attention_mask"], b["labels"])
    assert float(loss.detach()) == 0.0


def test_refuses_what_is_not_plainly_lm_head_of_the_hidden_states():
    # A trained output layer (LoRA on lm_head) needs its own gradient: full logits.
    assert ChunkedLoss.for_model(tiny(targets=("q_proj", "lm_head"))) is None
    # Soft-capped logits (Gemma 2's field, set on a Llama config here): not lm_head(hidden) alone.
    assert ChunkedLoss.for_model(tiny(final_logit_softcapping=30.0)) is None


def test_disagreement_is_caught():
    model, b = tiny(), batch()
    chunked = ChunkedLoss.for_model(model)
    model.eval()
    assert chunked.agrees(model, b)
    # A model that changes its logits after lm_head, without saying so in its config (a hook here).
    # (The random model's logits are near zero, so the hook adds a large bias rather than scaling them.)
    bias = torch.zeros(96)
    bias[0] = 10.0
    model.get_base_model().lm_head.register_forward_hook(lambda module, args, out: out + bias)
    assert not chunked.agrees(model, b)


def test_a_decoder_that_cannot_be_called_so_is_a_disagreement():
    model, b = tiny(), batch()
    chunked = ChunkedLoss.for_model(model)
    model.eval()

    class Odd(torch.nn.Module):  # answers a tuple, as some older model classes do
        def forward(self, input_ids, attention_mask):
            return (torch.zeros(*input_ids.shape, 32),)

    chunked.decoder = Odd()
    assert not chunked.agrees(model, b)
