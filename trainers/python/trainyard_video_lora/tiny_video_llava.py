"""`python -m trainyard_video_lora.tiny_video_llava OUT_DIR [--seed N]`: a tiny random video_llava (see tiny.py)."""
from .tiny import build_video_llava, cli

if __name__ == "__main__":
    cli(build_video_llava)
