"""lora-diffusion rows: the pack's main() (as the worker runs it, a clock on its per-step progress
events) against diffusers' DreamBooth-LoRA training loop (examples/dreambooth/train_dreambooth_lora.py,
reproduced step for step below) on the same random-initialised pipeline, images, prompt and rank.

Full size: Stable Diffusion 1.5's UNet (860 M parameters), VAE (84 M) and CLIP ViT-L text encoder
(123 M) with random weights, at 512 px; tiny: the pack's test pipeline sizes at 64 px."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict

from common import SIZES, Peak, StepClock, device, write_row

import numpy as np
import torch

PROMPT = "a photo of sks dog"
IMAGES = 4
RANK = 4
LR = 1e-4


def _unet(kind: str):
    from diffusers import UNet2DConditionModel
    if kind == "sd15":  # runwayml/stable-diffusion-v1-5 unet/config.json
        return UNet2DConditionModel(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32, act_fn="silu", flip_sin_to_cos=True, freq_shift=0)
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8)


def prepare(size: str, folder: str) -> None:
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline
    from PIL import Image
    from transformers import CLIPTextConfig, CLIPTextModel
    from trainyard_lora_diffusion.tiny import MAX_LENGTH, build_tokenizer

    s = SIZES[size]
    full = s["unet"] == "sd15"
    dev = device()
    torch.manual_seed(0)
    tok = build_tokenizer()
    with torch.device(dev):
        hidden = 768 if full else 32
        text = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 4 if full else 64, num_hidden_layers=12 if full else 2,
            num_attention_heads=12 if full else 4, max_position_embeddings=MAX_LENGTH, projection_dim=hidden, hidden_act="quick_gelu",
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
        # SD's VAE: four blocks, three 2x downsamplings (512 px -> 64x64 latents); tiny: the same depth, narrow.
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2 if full else 1,
                            block_out_channels=(128, 256, 512, 512) if full else (16, 16, 32, 32),
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            norm_num_groups=32 if full else 8, sample_size=s["resolution"], scaling_factor=0.18215)
        unet = _unet(s["unet"])
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    if dev.type == "cuda":
        pipe.to(torch.float16)  # half the bytes to write and read back; both sides load it in their own dtype
    pipe.save_pretrained(os.path.join(folder, "pipeline"), safe_serialization=True)
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    r = s["resolution"]
    for i in range(IMAGES):
        yy, xx = np.mgrid[0:r, 0:r] / r
        img = np.stack([np.sin(xx * (i + 2) * 3), np.cos(yy * (i + 3) * 2), xx * yy], -1) * 100 + 127 + rng.normal(0, 20, (r, r, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(folder, "images", f"{i}.png"))


def _image_files(folder: str):
    d = os.path.join(folder, "images")
    return [{"path": os.path.join(d, n), "filename": n} for n in sorted(os.listdir(d))]


def pack(size: str, folder: str, out: str, config: str, hp: Dict[str, Any]) -> None:
    from trainyard_common import protocol as tp
    from trainyard_lora_diffusion import lora, train

    s = SIZES[size]
    dev = device()
    job = os.path.join(folder, f"job-{os.getpid()}")
    spec = {
        "protocol": 1, "job_id": "bench", "trainer": "lora-diffusion", "output_dir": os.path.join(job, "out"),
        "checkpoint_dir": os.path.join(job, "ckpt"), "base_model": {"id": "sd15-random", "path": os.path.join(folder, "pipeline")},
        "inputs": {"dataset": {"files": _image_files(folder)}},
        "hyperparameters": {"trigger_word": "sks", "instance_prompt": PROMPT.replace("sks", "{trigger_word}"),
                            "steps": s["diffusion_steps"], "learning_rate": LR, "rank": RANK, "alpha": RANK,
                            "resolution": s["resolution"], "batch_size": 1, "checkpoint_every": 0, "preview_steps": 1,
                            "sample_every": 0, "seed": 0, **hp},
    }
    os.makedirs(job, exist_ok=True)
    with open(os.path.join(job, "spec.json"), "w") as f:
        json.dump(spec, f)
    clock, peak, seen = StepClock(dev, s["diffusion_warmup"]), Peak(dev), {"peak": 0.0, "steps": 0}
    add_lora, progress = lora.add_lora, tp.progress

    def adding(*a, **k):  # the training starts once the adapter is on: latents and prompt are encoded by then
        params = add_lora(*a, **k)
        peak.reset()
        clock.begin()
        return params

    def stepped(step, total, **k):  # emitted once per step, after loss.item() waited for the GPU
        clock.step()
        seen["peak"], seen["steps"] = peak.mb(), step
        progress(step, total, **k)

    lora.add_lora, tp.progress = adding, stepped
    sys.argv = ["trainyard_lora_diffusion", "--spec", os.path.join(job, "spec.json")]
    try:
        train.main()
    finally:
        lora.add_lora, tp.progress = add_lora, progress
    gc = "on" if hp.get("gradient_checkpointing") else "off"
    write_row(out, "lora-diffusion", config, "pack", "steps/s", clock.rate(), peak, seen["peak"], seen["steps"],
              f"{s['resolution']} px, batch 1, rank {RANK}, gradient checkpointing {gc}")


def reference(size: str, folder: str, out: str, config: str) -> None:
    """train_dreambooth_lora.py's loop with its defaults (no prior preservation, text encoder frozen,
    prompt embeddings and latents computed every step, mixed precision as the pack's)."""
    import torch.nn.functional as F
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from diffusers.optimization import get_scheduler
    from peft import LoraConfig
    from PIL import Image
    from transformers import CLIPTextModel, CLIPTokenizer
    from trainyard_lora_diffusion.data import to_tensor

    s = SIZES[size]
    dev = device()
    path = os.path.join(folder, "pipeline")
    half = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if dev.type == "cuda" else None
    weight_dtype = half or torch.float32
    tokenizer = CLIPTokenizer.from_pretrained(path, subfolder="tokenizer")
    noise_scheduler = DDPMScheduler.from_pretrained(path, subfolder="scheduler")
    text_encoder = CLIPTextModel.from_pretrained(path, subfolder="text_encoder", dtype=weight_dtype).to(dev)
    vae = AutoencoderKL.from_pretrained(path, subfolder="vae", dtype=weight_dtype).to(dev)
    unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet", dtype=weight_dtype).to(dev)
    for m in (vae, text_encoder, unet):
        m.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=RANK, lora_alpha=RANK, init_lora_weights="gaussian", target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:  # cast_training_params(unet, dtype=torch.float32)
        p.data = p.data.float()
    optimizer = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    lr_scheduler = get_scheduler("constant", optimizer=optimizer, num_warmup_steps=0, num_training_steps=s["diffusion_steps"])
    scaler = torch.amp.GradScaler("cuda", enabled=half == torch.float16)
    images = [to_tensor(Image.open(f["path"]).convert("RGB")) for f in _image_files(folder)]
    input_ids = tokenizer(PROMPT, truncation=True, padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    clock, peak = StepClock(dev, s["diffusion_warmup"]), Peak(dev)
    peak.reset()
    clock.begin()
    unet.train()
    steps = s["diffusion_steps"]
    for step in range(steps):
        pixel_values = images[step % len(images)].to(dev, dtype=weight_dtype)
        model_input = vae.encode(pixel_values).latent_dist.sample() * vae.config.scaling_factor
        noise = torch.randn_like(model_input)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (model_input.shape[0],), device=dev).long()
        noisy = noise_scheduler.add_noise(model_input, noise, timesteps)
        encoder_hidden_states = text_encoder(input_ids.to(dev), return_dict=False)[0]
        # accelerator.prepare(unet) wraps its forward in autocast when mixed precision is on.
        with torch.autocast(dev.type, dtype=weight_dtype, enabled=half is not None):
            model_pred = unet(noisy, timesteps, encoder_hidden_states, return_dict=False)[0]
        loss = F.mse_loss(model_pred.float(), noise.float(), reduction="mean")
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(optimizer)
        scaler.update()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss.detach().item()  # the script's progress bar logs it every step
        clock.step()
    write_row(out, "lora-diffusion", config, "reference", "steps/s", clock.rate(), peak, peak.mb(), steps,
              f"{s['resolution']} px, batch 1, rank {RANK}, diffusers DreamBooth-LoRA loop")
