"""
`python -m trainyard_common.probe lora_diffusion lora_diffusion.generate …` imports each entry's
module (for a package, its `train` module too) and prints one JSON line: {"packs": {entry: null |
reason}, "cuda": bool, "versions": {...}}. The catalog runs this once per environment and caches
the answer, so a trainer is offered only when its environment imports cleanly, with the import
error otherwise.
"""
from __future__ import annotations

import importlib
import sys


def _check(entry: str) -> None:
    mod = importlib.import_module(f"trainyard_{entry}")
    if hasattr(mod, "__path__"):
        importlib.import_module(f"trainyard_{entry}.train")


def main() -> None:
    from . import protocol as tp

    packs = {}
    for entry in sys.argv[1:]:
        try:
            _check(entry)
            packs[entry] = None
        except Exception as e:  # any import failure makes the pack unavailable, with its reason
            packs[entry] = f"{type(e).__name__}: {e}"[:500]
    versions = {}
    for name in ("torch", "transformers", "diffusers", "peft", "accelerate", "safetensors", "bitsandbytes"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception:
            versions[name] = None
    cuda = False
    try:
        import torch

        cuda = bool(torch.cuda.is_available())
    except Exception:
        pass
    tp.emit({"packs": packs, "cuda": cuda, "versions": versions, "python": sys.version.split()[0]})


if __name__ == "__main__":
    main()
