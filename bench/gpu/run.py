"""bench/gpu.sh: the Python trainer packs against their references, one table.

    bench/gpu.sh [--tiny] [--processes] [--only TEXT] [--budget SECONDS]

On a CUDA machine every row runs in a process of its own at full size (Llama-3.2-1B-sized LoRA and
QLoRA, SD 1.5-sized UNet at 512 px); rows left when the time budget (default 450 s) is spent are
listed as skipped. Without CUDA, or with --tiny, the same code runs at tiny sizes in one process:
the CPU smoke run CI uses so the script cannot rot (its figures say nothing about GPU speed)."""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# (kind, configuration, arguments); a configuration's rows are compared with its first row.
CAUSAL_MAIN = [
    ("causal-baseline", "bf16 LoRA", {"data": "train", "quantization": "none"}),
    ("causal-pack", "bf16 LoRA", {"data": "train", "hp": {"packing": True, "quantization": "none"}}),
    ("causal-baseline", "4-bit QLoRA", {"data": "train", "quantization": "4bit"}),
    ("causal-pack", "4-bit QLoRA", {"data": "train", "hp": {"packing": True, "quantization": "4bit"}}),
]
ABLATION = {"data": "ablation", "hp": {"packing": True, "quantization": "none"}}
CAUSAL_ABLATIONS = [
    ("pack: packing, SDPA, fused AdamW, bf16 (base of the ablation)", {}),
    ("eager attention", {"attn_implementation": "eager"}),
    ("no packing (pad to longest)", {"packing": False}),
    ("gradient checkpointing on", {"gradient_checkpointing": True}),
    ("AdamW not fused", {"fused_adamw": False}),
    ("fp32 base weights", {"fp32": True}),
    ("4-bit, gradient checkpointing off", {"quantization": "4bit", "gradient_checkpointing": False}),
    ("loss from the full logits (chunked loss off)", {"chunked_loss": False}),
    ("torch.compile", {"torch_compile": True}),  # last: the slowest row (compilation), first to fall to the budget
]
DIFFUSION = [
    ("diffusion-reference", "SD 1.5 UNet LoRA", {}),
    ("diffusion-pack", "SD 1.5 UNet LoRA", {"hp": {"gradient_checkpointing": True}}),
    ("diffusion-pack", "SD 1.5 UNet LoRA", {"hp": {"gradient_checkpointing": False}}),
]


def plan() -> List[Tuple[str, str, Dict[str, Any]]]:
    """The rows, the asked-for comparisons first: if the budget runs out, it is ablation rows that go,
    and before them the text-classifier's (not asked for by issue #15; `--only text` runs it alone)."""
    rows = list(CAUSAL_MAIN) + DIFFUSION + [("sequence", "", {})]
    for name, change in CAUSAL_ABLATIONS:
        fp32 = bool(change.pop("fp32", False)) if "fp32" in change else False
        args: Dict[str, Any] = {"data": ABLATION["data"], "hp": {**ABLATION["hp"], **change}}
        if fp32:
            args["fp32"] = True
        rows.append(("causal-pack", f"ablation: {name}", args))
    return rows + [("text", "", {})]


def run_row(kind: str, size: str, work: str, out: str, config: str, args: Dict[str, Any], in_process: bool, left: float) -> Optional[str]:
    """Runs one row; returns None, or why it failed."""
    if in_process:
        import row
        sys.argv = ["row.py", kind, "--size", size, "--dir", work, "--out", out, "--config", config, "--args", json.dumps(args)]
        try:
            row.main()
        except Exception as e:  # one broken row must not hide the others
            return f"{type(e).__name__}: {e}"
        return None
    cmd = [sys.executable, os.path.join(HERE, "row.py"), kind, "--size", size, "--dir", work, "--out", out,
           "--config", config, "--args", json.dumps(args)]
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=max(10, left))
    except subprocess.TimeoutExpired:
        return "time budget spent"
    return None if p.returncode == 0 else (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1][:200]


def fmt_rate(r: Dict[str, Any]) -> str:
    return f"{r['rate']:,.1f} {r['unit']}" if r["rate"] < 100 else f"{r['rate']:,.0f} {r['unit']}"


def table(rows: List[Dict[str, Any]]) -> str:
    lines = ["| trainer | configuration | side | speed | peak memory | speed ratio | memory ratio | steps | row s | notes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    first: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for r in rows:
        key = (r["bench"], "ablation" if r["config"].startswith("ablation") else r["config"])
        base = first.setdefault(key, r)
        if "error" in r:
            lines.append(f"| {r['bench']} | {r['config']} | {r['side']} | – | – | – | – | – | {r['row_s']:.0f} | not measured: {r['error']} |")
            continue
        ratio = "(base)" if base is r or "error" in base else f"{r['rate'] / base['rate']:.2f}×"
        mem = "(base)" if base is r or "error" in base else f"{r['peak_mb'] / base['peak_mb']:.2f}×"
        lines.append(f"| {r['bench']} | {r['config']} | {r['side']} | {fmt_rate(r)} | {r['peak_mb']:,.0f} MB ({r['peak_kind']}) | "
                     f"{ratio} | {mem} | {r['steps']} | {r['row_s']:.0f} | {r['note']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiny", action="store_true", help="tiny sizes in one process (the default without CUDA)")
    ap.add_argument("--only", default="", help="run only the rows whose kind or configuration contains this text")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds for all rows (prepare included)")
    ap.add_argument("--processes", action="store_true", help="one process per row at tiny size too (checks the GPU run's way)")
    a = ap.parse_args()
    t_start = time.perf_counter()
    # The table goes to stdout alone: the packs write their protocol events to fd 1 (rows run in
    # this process in the smoke run), so fd 1 becomes stderr and the table keeps the real stdout.
    table_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    import torch
    cuda = torch.cuda.is_available()
    size = "tiny" if a.tiny or not cuda else "gpu"
    in_process = size == "tiny" and not a.processes
    work = tempfile.mkdtemp(prefix="trainyard-gpu-bench-")
    gpu = torch.cuda.get_device_name(0) if cuda else "none"
    try:
        todo = [r for r in plan() if not a.only or a.only in r[0] or a.only in r[1]]
        kinds = {k.split("-")[0] for k, _, _ in todo}
        results: List[Dict[str, Any]] = []
        for prep in ("causal", "diffusion"):
            if prep in kinds:
                t0 = time.perf_counter()
                err = run_row(f"{prep}-prepare", size, work, "", "", {}, in_process, a.budget)
                print(f"prepared {prep} models in {time.perf_counter() - t0:.0f} s" + (f": {err}" if err else ""), file=sys.stderr, flush=True)
        for i, (kind, config, args) in enumerate(todo):
            out = os.path.join(work, f"row{i:02d}.json")
            left = a.budget - (time.perf_counter() - t_start)
            t0 = time.perf_counter()
            if in_process and args.get("hp", {}).get("torch_compile"):
                # Inductor builds C++ for the CPU: minutes on a small machine, and no figure worth having.
                err = "GPU only (compiling takes minutes on a CPU)"
            else:
                err = "time budget spent" if left <= 5 else run_row(kind, size, work, out, config, args, in_process, left)
            row_s = time.perf_counter() - t0
            files = sorted(glob.glob(out.replace(".json", "*.json")))
            for f in files:
                with open(f) as fh:
                    results.append({**json.load(fh), "row_s": row_s / len(files)})
            if err or not files:
                side = "pack" if kind.endswith("pack") else kind.split("-")[-1]
                results.append({"bench": kind.split("-")[0], "config": config, "side": side, "row_s": row_s, "error": err or "no figures"})
            print(f"row {i + 1}/{len(todo)} {kind} {config}: {row_s:.0f} s" + (f" ({err})" if err else ""), file=sys.stderr, flush=True)
        for r in results:  # row kinds to trainer ids
            r["bench"] = {"causal": "lora-causal-lm", "diffusion": "lora-diffusion", "sequence": "sequence-classifier", "text": "text-classifier"}.get(r["bench"], r["bench"])
        total = time.perf_counter() - t_start
        print(f"bench/gpu.sh: size {size}{' (CPU smoke run: not GPU figures)' if size == 'tiny' else ''}, GPU {gpu}, "
              f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, {total:.0f} s in all\n", file=table_out)
        print(table(results), file=table_out, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
