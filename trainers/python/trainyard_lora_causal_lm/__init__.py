"""The `lora-causal-lm` trainer: LoRA / QLoRA supervised fine-tuning of causal language models."""
