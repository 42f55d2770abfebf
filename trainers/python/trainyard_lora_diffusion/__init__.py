"""
DreamBooth-style LoRA for Stable-Diffusion-family pipelines (diffusers + PEFT).

`python -m trainyard_lora_diffusion --spec job.json` trains LoRA adapters on the UNet attention
projections; `python -m trainyard_lora_diffusion.generate --spec job.json` renders one image with a
base pipeline and, optionally, a trained LoRA; `python -m trainyard_lora_diffusion.tiny OUT_DIR`
builds a tiny random pipeline for tests.
"""
