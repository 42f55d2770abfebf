"""The LoRA adapter on the UNet: creation, checkpoint state, warm start and the diffusers-format export."""
from __future__ import annotations

import os
from typing import Dict

from trainyard_common import protocol as tp

import torch
from diffusers import StableDiffusionPipeline, UNet2DConditionModel
from diffusers.utils import convert_state_dict_to_diffusers, convert_unet_state_dict_to_peft
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

WEIGHTS_NAME = "pytorch_lora_weights.safetensors"
# The attention projections, as in diffusers' train_dreambooth_lora.py.
TARGET_MODULES = ["to_q", "to_k", "to_v", "to_out.0"]


def add_lora(unet: UNet2DConditionModel, rank: int, alpha: float) -> list:
    """Adds the adapter and returns its parameters, in fp32 even when the base weights are half precision."""
    unet.requires_grad_(False)
    try:
        unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian",
                                    target_modules=TARGET_MODULES))
    except ValueError as e:  # PEFT found none of the target modules
        raise tp.TrainerError("BASE_MODEL_INVALID", f"cannot add LoRA to this UNet: {e}") from e
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()
    return params


def adapter_state(unet: UNet2DConditionModel) -> Dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(unet).items()}


def load_adapter_state(unet: UNet2DConditionModel, state: Dict[str, torch.Tensor]) -> None:
    try:
        res = set_peft_model_state_dict(unet, state, adapter_name="default")
    except RuntimeError as e:  # shape mismatch: another rank
        raise tp.TrainerError("LORA_INCOMPATIBLE", f"LoRA weights do not fit this adapter: {e}") from e
    if res.unexpected_keys:  # loading is not strict: weights for modules this adapter lacks would vanish
        raise tp.TrainerError("LORA_INCOMPATIBLE", f"{len(res.unexpected_keys)} LoRA tensors match no adapted "
                              f"module, e.g. {res.unexpected_keys[0]}")


def warm_start(unet: UNet2DConditionModel, folder: str) -> bool:
    """Starts from a previous model version's LoRA (same rank) when init_from holds one."""
    if not folder or not os.path.isfile(os.path.join(folder, WEIGHTS_NAME)):
        return False
    state, _alphas = StableDiffusionPipeline.lora_state_dict(folder, weight_name=WEIGHTS_NAME)
    state = {k[len("unet."):]: v for k, v in state.items() if k.startswith("unet.")}
    load_adapter_state(unet, convert_unet_state_dict_to_peft(state))
    return True


def save_lora(unet: UNet2DConditionModel, out_dir: str) -> str:
    # The adapter config travels as metadata, so loaders get lora_alpha right when it differs from the rank.
    StableDiffusionPipeline.save_lora_weights(
        out_dir, unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
        safe_serialization=True, unet_lora_adapter_metadata=unet.peft_config["default"].to_dict())
    return os.path.join(out_dir, WEIGHTS_NAME)
