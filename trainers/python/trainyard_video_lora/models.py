"""
What a video base model is (its architecture) and what its frames must look like: size,
normalisation and, for VideoMAE, the frame count. Loading and adapting it is shared with the
other LoRA packs (trainyard_common.peft_utils).
"""
from __future__ import annotations

import json
import os
from typing import List, Tuple

from trainyard_common import protocol as tp

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])

# model_type in config.json → the architecture this pack trains it as.
ARCHITECTURES = {"videomae": "videomae", "idefics": "flamingo", "video_llava": "video_llama"}


def architecture(base: str, allowed: Tuple[str, ...]) -> str:
    try:
        with open(os.path.join(base, "config.json"), "r", encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
    except (OSError, ValueError) as e:
        raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", f"{base} has no readable config.json: {e}")
    arch = ARCHITECTURES.get(model_type)
    if arch not in allowed:
        names = [k for k, v in ARCHITECTURES.items() if v in allowed]
        raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", f"this trainer takes {' or '.join(names)} base models, not {model_type!r}")
    return arch


def mean_std(base: str, arch: str) -> Tuple[List[float], List[float]]:
    """The normalisation the base model was trained with: its preprocessor's, else its family's."""
    for name in ("preprocessor_config.json", "video_preprocessor_config.json"):
        try:
            with open(os.path.join(base, name), "r", encoding="utf-8") as f:
                c = json.load(f)
            if c.get("image_mean") and c.get("image_std"):
                return list(c["image_mean"]), list(c["image_std"])
        except (OSError, ValueError):
            continue
    return IMAGENET if arch == "videomae" else CLIP


def native_size(config) -> int:
    vc = getattr(config, "vision_config", None) or config
    size = vc.image_size
    return int(size[0] if isinstance(size, (list, tuple)) else size)
