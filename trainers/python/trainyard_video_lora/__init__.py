"""
LoRA fine-tuning of video models (transformers + PEFT; frames decoded with PyAV).

`python -m trainyard_video_lora.classify --spec job.json` trains a VideoMAE-style classifier;
`python -m trainyard_video_lora.caption --spec job.json` a captioner, Flamingo-style (IDEFICS) or
LLaVA-style (Video-LLaVA); `python -m trainyard_video_lora.tiny_videomae OUT_DIR` (tiny_idefics,
tiny_video_llava) builds a tiny random base model for tests.
"""
