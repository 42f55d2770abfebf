"""`python -m trainyard_video_lora --spec job.json`: the trainer named in the spec."""
import json
import sys

from trainyard_common.protocol import main_guard

args = sys.argv[1:]
trainer = ""
if "--spec" in args and args.index("--spec") + 1 < len(args):
    try:
        with open(args[args.index("--spec") + 1], "r", encoding="utf-8") as f:
            trainer = json.load(f).get("trainer", "")
    except (OSError, ValueError):
        pass  # load_spec reports it
if trainer == "video-lora-captioner":
    from .caption import main
else:
    from .classify import main
main_guard(main)
