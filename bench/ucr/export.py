"""Writes a dataset's train and test splits as CSVs in Trainyard's instance format.

One row per time step: instance (the recording's id), t (its step within the recording),
label, then one column per channel (c0, c1, ...). Usage:
  python bench/ucr/export.py OUT_DIR BasicMotions [JapaneseVowels ...]
Prints one JSON line per split: {dataset, split, path, instances, channels, min_length, max_length}.
"""

import csv
import json
import os
import sys

from common import load


def export(name, split, out_dir):
    X, y = load(name, split)
    channels = len(X[0])
    path = os.path.join(out_dir, f"{name}_{split.upper()}.csv")
    lengths = []
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["instance", "t", "label", *[f"c{c}" for c in range(channels)]])
        for i, (series, label) in enumerate(zip(X, y)):
            length = len(series[0])
            lengths.append(length)
            for t in range(length):
                # repr-exact floats: the CSV carries the archive's values unchanged
                w.writerow([f"{split}-{i:04d}", t, label, *[repr(float(series[c][t])) for c in range(channels)]])
    return {
        "dataset": name,
        "split": split,
        "path": path,
        "instances": len(y),
        "channels": channels,
        "min_length": min(lengths),
        "max_length": max(lengths),
    }


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name in sys.argv[2:]:
        for split in ("train", "test"):
            print(json.dumps(export(name, split, out_dir)), flush=True)
