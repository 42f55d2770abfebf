"""
`python -m trainyard_lora_diffusion.tiny OUT_DIR [--seed N]` builds a tiny, randomly initialized
Stable-Diffusion pipeline (UNet, VAE, CLIP text encoder, CLIP tokenizer, DDIM scheduler) from
configs alone and saves it as a diffusers folder, so tests and demos run offline in seconds.
Prints one JSON line: {"path": OUT_DIR, "architecture": "stable-diffusion"}.
"""
from __future__ import annotations

import argparse
import os

from trainyard_common import protocol as tp

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77  # CLIP's context length, which the SD pipeline assumes
LATENT_SIZE = 16  # 64 px images through a 4x VAE: small latents keep CPU training steps fast


def _byte_chars() -> list:
    """GPT-2/CLIP's byte-to-unicode table: every byte gets a printable character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def build_tokenizer() -> CLIPTokenizer:
    # A byte-level vocabulary without merges: every word tokenizes to its characters, which is
    # all a tiny random text encoder needs, and nothing has to be downloaded.
    chars = _byte_chars()
    vocab = {BOS: 0, EOS: 1}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=MAX_LENGTH)


def build(out_dir: str, seed: int = 0) -> str:
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=MAX_LENGTH, projection_dim=32,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))
    unet = UNet2DConditionModel(
        sample_size=LATENT_SIZE, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, attention_head_dim=8,
    )
    # A random UNet predicts noise only slightly worse than zero would (loss ~1.1), leaving a LoRA
    # too little to learn for a test to see in 30 steps; a louder output layer makes the untrained
    # loss ~2 and the improvement unmistakable.
    with torch.no_grad():
        unet.conv_out.weight.mul_(3.0)
        unet.conv_out.bias.mul_(3.0)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 32, 64), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        sample_size=LATENT_SIZE * 4,
    )
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    os.makedirs(out_dir, exist_ok=True)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return os.path.abspath(out_dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    tp.emit({"path": build(args.out_dir, args.seed), "architecture": "stable-diffusion"})


if __name__ == "__main__":
    main()
