"""`python -m trainyard_video_lora.tiny_videomae OUT_DIR [--seed N]`: a tiny random videomae (see tiny.py)."""
from .tiny import build_videomae, cli

if __name__ == "__main__":
    cli(build_videomae)
