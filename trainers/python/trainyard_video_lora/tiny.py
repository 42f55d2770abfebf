"""
Tiny, randomly initialised video models built from configs, for tests and local smoke runs:
nothing is downloaded. `python -m trainyard_video_lora.tiny_videomae OUT_DIR` (likewise
tiny_idefics, tiny_video_llava) writes one in OUT_DIR (saved with save_pretrained, as a real one
would be) and prints {"path": OUT_DIR, "architecture": ...}. The captioning models get a small
byte-level BPE tokenizer trained here (the one tiny-llama uses, plus the image/video tokens).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Callable

import torch

# The frames the tiny models take: the tests' clips are this small, so CPU runs take seconds.
FRAME_SIZE = 32
NUM_FRAMES = 4
PATCH = 8


def _tokenizer(extra_special):
    from trainyard_lora_causal_lm.tiny import build_tokenizer

    tok = build_tokenizer()
    tok.add_tokens(list(extra_special), special_tokens=True)
    return tok


def build_videomae(out_dir: str) -> str:
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    config = VideoMAEConfig(image_size=FRAME_SIZE, patch_size=PATCH, num_frames=NUM_FRAMES, tubelet_size=2,
                            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                            use_mean_pooling=True, num_labels=2)
    VideoMAEForVideoClassification(config).save_pretrained(out_dir)
    return "videomae"


def build_idefics(out_dir: str) -> str:
    from transformers import IdeficsConfig, IdeficsForVisionText2Text

    tok = _tokenizer(["<fake_token_around_image>", "<image>"])
    config = IdeficsConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=512, cross_layer_interval=1,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        # A trained IDEFICS has open gates on its cross-attention; a zero-initialised one would
        # ignore the frames entirely, so the tiny model starts with its gates open.
        alpha_initializer="ones", initializer_range=0.2,
        vision_config={"embed_dim": 32, "image_size": FRAME_SIZE, "patch_size": PATCH, "intermediate_size": 64,
                       "num_hidden_layers": 1, "num_attention_heads": 2},
        perceiver_config={"use_resampler": False},
        freeze_text_layers=False, freeze_vision_layers=False,
    )
    IdeficsForVisionText2Text(config).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return "idefics"


def build_video_llava(out_dir: str) -> str:
    from transformers import VideoLlavaConfig, VideoLlavaForConditionalGeneration

    tok = _tokenizer(["<image>", "<video>"])
    config = VideoLlavaConfig(
        vision_config={"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": FRAME_SIZE,
                       "patch_size": PATCH, "projection_dim": 32},
        text_config={"model_type": "llama", "vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 512, "initializer_range": 0.2,
                     "pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id,
                     "eos_token_id": tok.eos_token_id},
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        vision_feature_layer=-1,
    )
    VideoLlavaForConditionalGeneration(config).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return "video_llava"


def cli(builder: Callable[[str], str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = os.path.abspath(args.out_dir)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(args.seed)
    arch = builder(out)
    print(json.dumps({"path": out, "architecture": arch}), flush=True)
