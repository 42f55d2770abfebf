"""One bench/gpu.sh row in a process of its own, so peak memory, compiled code and CUDA state never
leak from one row into the next:

    python bench/gpu/row.py KIND --size gpu|tiny --dir WORK --out ROW.json [--config NAME] [--args JSON]

KIND: causal-prepare, causal-pack, causal-baseline, diffusion-prepare, diffusion-pack,
diffusion-reference, sequence, text."""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind")
    ap.add_argument("--size", required=True, choices=["gpu", "tiny"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", default="")
    ap.add_argument("--config", default="")
    ap.add_argument("--args", default="{}")
    a = ap.parse_args()
    extra = json.loads(a.args)
    if a.kind.startswith("causal"):
        import causal_lm as m
    elif a.kind.startswith("diffusion"):
        import diffusion as m
    elif a.kind == "text":
        import text as m
    else:
        import sequence as m
    if a.kind.endswith("prepare"):
        m.prepare(a.size, a.dir)
    elif a.kind in ("sequence", "text"):
        m.rows(a.size, a.dir, a.out)
    else:
        getattr(m, a.kind.split("-", 1)[1])(a.size, a.dir, a.out, a.config, **extra)


if __name__ == "__main__":
    main()
