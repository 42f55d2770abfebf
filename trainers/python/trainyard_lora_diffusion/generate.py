"""
Inference on the trainer protocol: `python -m trainyard_lora_diffusion.generate --spec job.json`
renders one image from spec.base_model (a diffusers Stable-Diffusion folder), with the LoRA in
spec.init_from when given. The pipeline loading and rendering here are also what train.py uses
for class images and the preview, so a preview looks like what users will get.
"""
from __future__ import annotations

import os
import random
import sys
import time
from typing import Callable, Optional

from trainyard_common import protocol as tp
from trainyard_common import torch_utils

import torch
from diffusers import StableDiffusionPipeline

from .lora import WEIGHTS_NAME


def amp_dtype(device: torch.device) -> Optional[torch.dtype]:
    """Half precision on CUDA (bf16 where supported: no loss scaling needed); None = fp32 on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_pipeline(path: str, dtype: torch.dtype = torch.float32) -> StableDiffusionPipeline:
    if not os.path.isfile(os.path.join(path, "model_index.json")):
        raise tp.TrainerError("BASE_MODEL_INVALID", f"{path} is not a diffusers pipeline folder (no model_index.json)")
    try:
        pipe = StableDiffusionPipeline.from_pretrained(
            path, dtype=dtype, safety_checker=None, requires_safety_checker=False)
    except Exception as e:  # whatever diffusers says about a folder it cannot assemble
        raise tp.TrainerError("BASE_MODEL_INVALID",
                              f"{path} is not a Stable Diffusion pipeline: {type(e).__name__}: {e}") from e
    # SDXL-style folders partly load as SD pipelines; their UNet expects other conditioning.
    if pipe.unet.config.cross_attention_dim != pipe.text_encoder.config.hidden_size or pipe.unet.config.addition_embed_type:
        raise tp.TrainerError("BASE_MODEL_INVALID", f"{path} is not a Stable Diffusion 1.x/2.x pipeline "
                              "(its UNet does not take this text encoder's embeddings alone)")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_lora(pipe: StableDiffusionPipeline, folder: Optional[str]) -> bool:
    """Loads the LoRA of a trained model version into the pipeline; False when there is none to load."""
    if not folder:
        return False
    if not os.path.isfile(os.path.join(folder, WEIGHTS_NAME)):
        raise tp.TrainerError("LORA_MISSING", f"init_from has no {WEIGHTS_NAME}")
    pipe.load_lora_weights(folder, weight_name=WEIGHTS_NAME)
    return True


def default_size(pipe: StableDiffusionPipeline) -> int:
    return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)


def render(pipe: StableDiffusionPipeline, prompt: str, *, seed: int, steps: int = 25, guidance_scale: float = 7.5,
           negative_prompt: Optional[str] = None, width: Optional[int] = None, height: Optional[int] = None,
           num_images: int = 1, output_type: str = "pil", on_step: Optional[Callable[[int, int], None]] = None):
    """Runs the pipeline with a CPU generator, so a seed gives the same image on any device."""
    device = pipe.unet.device
    dtype = amp_dtype(device)

    def callback(_pipe, i, _t, kwargs):
        if on_step is not None:
            on_step(i + 1, steps)
        return kwargs

    # Autocast lets fp32 LoRA weights run next to half-precision base weights during training.
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        out = pipe(prompt, negative_prompt=negative_prompt, num_inference_steps=steps, guidance_scale=guidance_scale,
                   width=width or default_size(pipe), height=height or default_size(pipe),
                   num_images_per_prompt=num_images, generator=torch.Generator("cpu").manual_seed(seed),
                   output_type=output_type, callback_on_step_end=callback)
    return out.images


def _num(hp: dict, key: str, default: float) -> float:
    return default if hp.get(key) is None else float(hp[key])


def _size(hp: dict, key: str, default: int) -> int:
    v = int(hp.get(key) or default)
    if v <= 0 or v % 8:
        raise tp.TrainerError("INVALID_HYPERPARAMETER", f"{key} must be a positive multiple of 8, got {v}")
    return v


def main() -> None:
    spec = tp.load_spec()
    stop = tp.StopFlag()
    hp = spec.get("hyperparameters") or {}
    prompt = hp.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise tp.TrainerError("INVALID_HYPERPARAMETER", "prompt is required")
    seed = hp.get("seed")
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    steps = int(hp.get("steps") or 25)
    device = torch_utils.device()

    pipe = load_pipeline(torch_utils.base_model_path(spec), amp_dtype(device) or torch.float32).to(device)
    lora = load_lora(pipe, spec.get("init_from"))
    width, height = _size(hp, "width", default_size(pipe)), _size(hp, "height", default_size(pipe))
    tp.log(f"generating {width}x{height}, {steps} steps, seed {seed}" + (", with LoRA" if lora else ""))

    def on_step(i: int, n: int) -> None:
        if stop.requested:  # nothing worth checkpointing in one image
            sys.exit(143)
        tp.progress(i, n)

    t0 = time.time()
    image = render(pipe, prompt, seed=seed, steps=steps, guidance_scale=_num(hp, "guidance_scale", 7.5),
                   negative_prompt=hp.get("negative_prompt") or None, width=width, height=height, on_step=on_step)[0]
    elapsed = time.time() - t0
    os.makedirs(spec["output_dir"], exist_ok=True)
    path = os.path.join(spec["output_dir"], "image.png")
    image.save(path)
    tp.artifact("image.png", path, "png")
    tp.result({"seed": seed, "steps": steps, "inference_time_s": elapsed},
              {"seed": seed, "prompt": prompt, "width": width, "height": height, "lora": lora})


if __name__ == "__main__":
    tp.main_guard(main)
