"""
The training loss without the whole logits tensor.

A causal LM's loss needs the logits of every trained token over the whole vocabulary: for a
batch of 4 × 1024 tokens and Llama-3's 128,256 tokens that is 1 GB in bf16, 2 GB for each fp32
copy the cross-entropy makes (upcast, log-softmax saved for the backward, its gradient), the
largest single item of a LoRA step's peak memory (bench/gpu.sh on an H200: 14.5–15 GB for
Llama-3.2-1B). Here the backbone runs once, then the output layer and the cross-entropy run in
chunks of tokens, and only on tokens that are trained (label != -100: prompts, padding and
packed-in neighbours' prompts cost nothing). Each chunk's gradient with respect to its hidden
states is computed in the forward pass (the output layer is frozen, so nothing else needs one):
no chunk's logits outlive it, and no matmul is repeated.

It applies only where the logits are exactly `lm_head(decoder(...).last_hidden_state)`: a plain
frozen nn.Linear without bias, no logit soft-capping or scaling in the config. `ChunkedLoss.for_model`
returns None otherwise (and the loop computes the loss from the full logits, as before), and
`agrees` checks the two against each other on real data before the chunked path is trusted.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .data import IGNORE
# Logits computed at once: 2^26 fp32 values = 256 MB per chunk (523 tokens of a 128k vocabulary).
CHUNK_ELEMENTS = 1 << 26
# Config fields that put something between lm_head and the logits (Gemma 2/3, Cohere, Granite).
_TRANSFORMS = ("final_logit_softcapping", "logit_softcapping", "logit_scale", "logits_scaling")


class _HeadCrossEntropy(torch.autograd.Function):
    """Sum over rows of cross_entropy(F.linear(hidden, weight).float(), labels); the gradient with
    respect to `hidden` only (the weight is frozen)."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        for s in range(0, hidden.size(0), chunk):
            logits = F.linear(hidden[s:s + chunk], weight).float()  # what lm_head gives, then upcast, as before
            y = labels[s:s + chunk]
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, y[:, None]).squeeze(1)).sum()
            if grad is not None:
                probs = logits.sub_(lse[:, None]).exp_()  # softmax in place: the chunk's logits are done with
                probs[torch.arange(y.numel(), device=y.device), y] -= 1.0
                grad[s:s + chunk] = probs.to(weight.dtype) @ weight
        ctx.save_for_backward(grad)
        return total

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad * g.to(grad.dtype), None, None, None


class ChunkedLoss:
    """Summed next-token cross-entropy of a (PEFT-wrapped) causal LM, chunk by chunk."""

    def __init__(self, decoder: torch.nn.Module, head: torch.nn.Linear) -> None:
        self.decoder, self.head = decoder, head
        self.chunk = max(1, CHUNK_ELEMENTS // head.weight.size(0))

    @classmethod
    def for_model(cls, model: torch.nn.Module) -> Optional["ChunkedLoss"]:
        """The chunked loss for `model`, or None where its logits are not plainly lm_head(hidden)."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        config = getattr(base, "config", None)
        if config is None or any(getattr(config, k, None) not in (None, 1, 1.0) for k in _TRANSFORMS):
            return None
        head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
        decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
        # type() and not isinstance(): a LoRA or quantized layer subclasses or wraps Linear and has weights of its own.
        if type(head) is not torch.nn.Linear or head.bias is not None or head.weight.requires_grad:
            return None
        if decoder is None or decoder is base:
            return None
        return cls(decoder, head)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                 decoder: Optional[torch.nn.Module] = None) -> torch.Tensor:
        hidden = (decoder or self.decoder)(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        targets = labels[:, 1:]
        keep = targets != IGNORE
        return _HeadCrossEntropy.apply(hidden[:, :-1][keep], self.head.weight, targets[keep], self.chunk)

    def agrees(self, model: torch.nn.Module, batch: dict, rtol: float = 2e-3) -> bool:
        """Whether this loss equals the full-logits loss on `batch` (a real batch, the model in eval mode).
        A decoder that cannot be called this way (no `last_hidden_state`, other arguments) is a no."""
        with torch.no_grad():
            try:
                ours = float(self(batch["input_ids"], batch["attention_mask"], batch["labels"]))
            except Exception:  # noqa: BLE001 - any failure here only means: use the full logits
                return False
            full = float(full_loss_sum(model, batch))
        return abs(ours - full) <= rtol * abs(full) + 1e-4


def full_loss_sum(forward, batch: dict) -> torch.Tensor:
    """Summed next-token cross-entropy on trained tokens from the model's whole logits tensor:
    the loss when the chunked one does not apply, and what `agrees` checks that one against."""
    logits = forward(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch["labels"][:, 1:].reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
