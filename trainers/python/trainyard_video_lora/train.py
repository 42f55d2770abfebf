"""What the pack probe imports: both trainers' modules (`python -m trainyard_common.probe video_lora`)."""
from . import caption, classify  # noqa: F401
