"""`python -m trainyard_video_lora.tiny_idefics OUT_DIR [--seed N]`: a tiny random idefics (see tiny.py)."""
from .tiny import build_idefics, cli

if __name__ == "__main__":
    cli(build_idefics)
