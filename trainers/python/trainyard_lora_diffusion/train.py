"""
DreamBooth-style LoRA training for Stable-Diffusion pipelines, after diffusers'
train_dreambooth_lora.py: LoRA on the UNet attention projections, noise-prediction MSE, optional
prior preservation with class images rendered by the base model. The VAE and text encoder stay
frozen, so image latents and prompt embeddings are computed once before the loop.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Dict, List

from trainyard_common import protocol as tp
from trainyard_common import torch_utils

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from diffusers.optimization import get_scheduler

from . import data, lora
from .generate import amp_dtype, load_pipeline, render

MAX_CLASS_IMAGES = 8  # prior preservation on a budget: diffusers' default of 100 costs minutes per job
PRIOR_LOSS_WEIGHT = 1.0
MAX_GRAD_NORM = 1.0


def _prompts(hp: Dict[str, Any]) -> tuple:
    trigger = str(hp.get("trigger_word") or "").strip()
    if not trigger:
        raise tp.TrainerError("INVALID_HYPERPARAMETER", "trigger_word is required")
    prompt = (hp.get("instance_prompt") or "a photo of {trigger_word}").replace("{trigger_word}", trigger)
    if trigger.lower() not in prompt.lower():
        tp.log(f"instance_prompt {prompt!r} does not contain the trigger word {trigger!r}: "
               "the LoRA will answer to the prompt, not to the trigger word", "warn")
    return trigger, prompt, (hp.get("class_prompt") or "").strip() or None


@torch.no_grad()
def _embed(pipe: StableDiffusionPipeline, prompt: str) -> torch.Tensor:
    tok = pipe.tokenizer(prompt, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                         truncation=True, return_tensors="pt")
    return pipe.text_encoder(tok.input_ids.to(pipe.text_encoder.device))[0].float()


@torch.no_grad()
def _encode(pipe: StableDiffusionPipeline, pixels: torch.Tensor) -> torch.Tensor:
    """Latent mean and std (scaled as the UNet sees them) stacked on dim 1: sampled afresh each step."""
    vae = pipe.vae
    dist = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist
    sf = vae.config.scaling_factor
    return torch.cat([dist.mean, dist.std], dim=1).float() * sf


def _class_latents(pipe, prompt: str, count: int, size: int, steps: int, seed: int, stop) -> torch.Tensor:
    """Renders the class images straight to latents: the same samples, without a decode/encode round trip."""
    tp.log(f"prior preservation: rendering {count} class images for {prompt!r} ({steps} steps each)")
    out = []
    for start in range(0, count, 4):
        if stop.requested:
            sys.exit(143)
        lat = render(pipe, prompt, seed=seed + start, steps=steps, width=size, height=size,
                     num_images=min(4, count - start), output_type="latent")
        out.append(torch.cat([lat.float(), torch.zeros_like(lat, dtype=torch.float32)], dim=1).cpu())
    return torch.cat(out)


def _sample_prompts(hp: Dict[str, Any], trigger: str, prompt: str) -> List[str]:
    """sample_prompts with {trigger_word} filled in; by default the instance prompt alone."""
    given = [str(p).replace("{trigger_word}", trigger).strip() for p in (hp.get("sample_prompts") or [])]
    return [p for p in given if p] or [prompt]


def _render_samples(spec, pipe, unet, prompts: List[str], step: int, seed: int, steps: int, size: int) -> None:
    """One image per prompt with the same seed every time, so samples differ only by the training."""
    folder = os.path.join(spec["output_dir"], "samples")
    os.makedirs(folder, exist_ok=True)
    unet.eval()
    for i, p in enumerate(prompts):
        path = os.path.join(folder, f"step{step:06d}-{i}.png")
        render(pipe, p, seed=seed, steps=steps, width=size, height=size)[0].save(path)
        tp.sample(step, p, path)
    unet.train()


def _sample(stats: torch.Tensor, idx: List[int], gen: torch.Generator) -> torch.Tensor:
    mean, std = stats[idx].chunk(2, dim=1)
    return mean + std * torch.randn(mean.shape, generator=gen)


def _mean(xs: List[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def main() -> None:
    spec = tp.load_spec()
    stop = tp.StopFlag()
    hp = spec.get("hyperparameters") or {}
    trigger, prompt, class_prompt = _prompts(hp)
    total = int(hp.get("steps") or 1000)
    lr = float(hp.get("learning_rate") or 1e-4)
    rank = int(hp.get("rank") or 4)
    alpha = float(hp.get("alpha") or rank)
    size = int(hp.get("resolution") or 512)
    every = int(hp.get("checkpoint_every") or 0)
    seed = int(hp.get("seed") or 0)
    preview_steps = int(hp.get("preview_steps") or 25)
    batch_size = int(hp.get("batch_size") or 1)
    sample_every = int(hp.get("sample_every") or 0)
    sample_prompts = _sample_prompts(hp, trigger, prompt) if sample_every > 0 else []
    if size <= 0 or size % 8:
        raise tp.TrainerError("INVALID_HYPERPARAMETER", f"resolution must be a positive multiple of 8, got {size}")

    torch_utils.seed_everything(seed)
    device = torch_utils.device()
    half = amp_dtype(device)
    files = (spec.get("inputs", {}).get("dataset") or {}).get("files") or []
    images = list(data.iter_images(files, size))
    if not images:
        raise tp.TrainerError("DATASET_INVALID", "the dataset has no readable images (png, jpeg or webp)")
    tp.log(f"{len(images)} instance images at {size}x{size}, prompt {prompt!r}")

    # Frozen weights in half precision on CUDA; the adapter stays fp32 (see lora.add_lora).
    pipe = load_pipeline(torch_utils.base_model_path(spec), half or torch.float32).to(device)
    noise_sched = DDPMScheduler.from_config(pipe.scheduler.config)
    pred_type = noise_sched.config.prediction_type
    if pred_type not in ("epsilon", "v_prediction"):
        raise tp.TrainerError("BASE_MODEL_INVALID", f"unsupported scheduler prediction_type {pred_type!r}")
    state = torch_utils.load_resume(spec)

    class_stats = None
    if class_prompt:
        class_stats = (state or {}).get("class_latents")
        if class_stats is None:
            class_stats = _class_latents(pipe, class_prompt, min(len(images), MAX_CLASS_IMAGES), size,
                                         preview_steps, seed, stop)
    inst_stats = torch.cat([_encode(pipe, px) for _, px in images]).cpu()
    inst_emb = _embed(pipe, prompt)
    class_emb = _embed(pipe, class_prompt) if class_prompt else None

    unet = pipe.unet
    params = lora.add_lora(unet, rank, alpha)
    if hp.get("gradient_checkpointing"):
        unet.enable_gradient_checkpointing()
    tp.log(f"training {sum(p.numel() for p in params):,} LoRA parameters (rank {rank}, alpha {alpha:g}) "
           f"for {total} steps on {device.type}" + (f" with {half} autocast" if half else ""))
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    sched = get_scheduler("constant_with_warmup", opt, num_warmup_steps=min(100, total // 10))
    scaler = torch.amp.GradScaler("cuda", enabled=half == torch.float16)
    gen = torch.Generator().manual_seed(seed)

    start, losses, elapsed = 0, [], 0.0
    if state is not None:
        lora.load_adapter_state(unet, state["adapter"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        gen.set_state(state["generator"])
        start, losses, elapsed = int(state["step"]), list(state["losses"]), float(state["elapsed"])
    elif lora.warm_start(unet, spec.get("init_from")):
        tp.log("warm start from the previous model version's LoRA")

    def save(step: int) -> None:
        torch_utils.save_checkpoint(spec, step, {
            "adapter": lora.adapter_state(unet), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(), "generator": gen.get_state(), "losses": losses,
            "elapsed": elapsed, "class_latents": class_stats})

    unet.train()
    n = len(images)
    for step in range(start, total):
        t0 = time.time()
        latents = _sample(inst_stats, data.batch_indices(step, batch_size, n, seed), gen)
        emb = inst_emb.expand(batch_size, -1, -1)
        if class_stats is not None:
            cls = data.batch_indices(step, batch_size, len(class_stats), seed + 1)
            latents = torch.cat([latents, _sample(class_stats, cls, gen)])
            emb = torch.cat([emb, class_emb.expand(batch_size, -1, -1)])
        noise = torch.randn(latents.shape, generator=gen)
        t = torch.randint(0, noise_sched.config.num_train_timesteps, (latents.shape[0],), generator=gen)
        target = noise if pred_type == "epsilon" else noise_sched.get_velocity(latents, noise, t)
        noisy = noise_sched.add_noise(latents, noise, t)
        with torch.autocast(device.type, dtype=half or torch.float32, enabled=half is not None):
            pred = unet(noisy.to(device), t.to(device), emb.to(device)).sample.float()
        target = target.to(device)
        if class_stats is not None:
            (pred, pred_prior), (target, target_prior) = pred.chunk(2), target.chunk(2)
            loss = F.mse_loss(pred, target) + PRIOR_LOSS_WEIGHT * F.mse_loss(pred_prior, target_prior)
        else:
            loss = F.mse_loss(pred, target)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        sched.step()
        losses.append(float(loss.item()))  # also waits for the GPU, so the timing below is real
        elapsed += time.time() - t0

        done = step + 1
        tp.progress(done, total, epoch=done * batch_size / n)
        tp.metrics(done, {"loss": losses[-1], "lr": sched.get_last_lr()[0]})
        if stop.requested:
            save(done)
            sys.exit(143)
        if sample_every > 0 and (done % sample_every == 0 or done == total):
            # The last step is always sampled: its sample is the model version's preview.
            _render_samples(spec, pipe, unet, sample_prompts, done, seed, preview_steps, size)
        if every > 0 and done % every == 0 and done < total:
            save(done)

    _finish(spec, pipe, unet, trigger, prompt, class_prompt, size, n, seed, preview_steps, losses, elapsed)


def _finish(spec, pipe, unet, trigger, prompt, class_prompt, size, n, seed, preview_steps, losses, elapsed) -> None:
    out = spec["output_dir"]
    os.makedirs(out, exist_ok=True)
    weights = lora.save_lora(unet, out)
    tp.artifact(lora.WEIGHTS_NAME, weights, "safetensors-lora-diffusers")

    unet.eval()
    preview = os.path.join(out, "preview.png")
    render(pipe, prompt, seed=seed, steps=preview_steps, width=size, height=size)[0].save(preview)
    tp.artifact("preview.png", preview, "png")

    k = max(1, math.ceil(len(losses) / 10))
    steps = len(losses)
    metrics = {"loss": _mean(losses[-k:]), "first_loss": _mean(losses[:k]), "steps": steps,
               "train_time_s": elapsed, "steps_per_second": steps / elapsed if elapsed > 0 else 0.0}
    base = (spec.get("base_model") or {}).get("id", "BASE_MODEL")
    usage = ("```python\nfrom diffusers import StableDiffusionPipeline\n\n"
             f"pipe = StableDiffusionPipeline.from_pretrained(\"{base}\")\n"
             f"pipe.load_lora_weights(\"path/to/this/folder\", weight_name=\"{lora.WEIGHTS_NAME}\")\n"
             f"image = pipe({prompt!r}, num_inference_steps=25).images[0]\n```\n\n"
             f"Trigger word: `{trigger}`.")
    card = os.path.join(out, "README.md")
    torch_utils.write_model_card(card, f"LoRA `{trigger}` (Stable Diffusion)", spec, metrics, usage)
    tp.artifact("README.md", card, "model-card")

    details = {"trigger_word": trigger, "instance_prompt": prompt, "resolution": size, "images": n}
    if class_prompt:
        details["class_prompt"] = class_prompt
    tp.result(metrics, details)
