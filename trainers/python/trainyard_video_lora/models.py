"""
Loading a video base model (LoRA or 4-bit QLoRA), adapting it with PEFT, and what its frames
must look like: size, normalisation and, for VideoMAE, the frame count.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

import torch
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training

from trainyard_common import peft_utils as PU
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


def load(cls, base: str, quantization: str, dev: torch.device, skip: Optional[List[str]] = None, **kwargs):
    """The base model, frozen: 4-bit NF4 on CUDA when asked (QLoRA); on CPU a 4-bit request trains plain LoRA."""
    load, used = PU.load_options(quantization, dev, skip)
    opts: Dict[str, Any] = {**kwargs, **load}
    try:
        model = cls.from_pretrained(base, **opts)
    except (ValueError, OSError, KeyError, RuntimeError) as e:
        raise tp.TrainerError("BASE_MODEL_UNSUPPORTED", f"cannot load {base} as {cls.__name__}: {e}")
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False
    if used == "4bit-nf4":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        model.to(dev)
    return model, used


def adapt(model, spec: Dict[str, Any], hp: Dict[str, Any], modules_to_save: Optional[List[str]] = None):
    """A PEFT LoRA over the target modules (and trainable copies of modules_to_save), or the previous version's adapter."""
    init = spec.get("init_from")
    if init:
        if not os.path.isfile(os.path.join(init, "adapter_config.json")):
            raise tp.TrainerError("INIT_FROM_INVALID", f"init_from {init} has no adapter_config.json")
        tp.log("warm start from the previous adapter: its rank, alpha and target modules are kept")
        return PeftModel.from_pretrained(model, init, is_trainable=True)
    targets = [str(t) for t in hp["target_modules"]]
    PU.check_targets(model, targets)
    cfg = LoraConfig(r=int(hp["lora_rank"]), lora_alpha=int(hp["lora_alpha"]), lora_dropout=float(hp["lora_dropout"]),
                     target_modules=targets, bias="none", modules_to_save=modules_to_save)
    return get_peft_model(model, cfg)




def native_size(config) -> int:
    vc = getattr(config, "vision_config", None) or config
    size = vc.image_size
    return int(size[0] if isinstance(size, (list, tuple)) else size)
