"""aeon's MiniRocketClassifier on the standard train/test splits of the UCR/UEA datasets that
ship inside aeon (BasicMotions, JapaneseVowels, GunPoint), for bench/minirocket-vs-aeon.ts.

Writes each split as JSON (series row-major, time × channels, at their own lengths) to OUT and
prints one JSON line of aeon's figures. aeon's MiniRocket does not accept unequal lengths, so
JapaneseVowels is zero-padded at the end to its longest series (train and test) for aeon only;
the TypeScript side runs both that padded copy and the series at their own lengths.
n_jobs=1: one thread, as the TypeScript implementation.
"""

import json
import sys
import time

import numpy as np
from aeon.classification.convolution_based import MiniRocketClassifier
from aeon.datasets import load_basic_motions, load_gunpoint, load_japanese_vowels

out, seeds = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
LOADERS = {"BasicMotions": load_basic_motions, "JapaneseVowels": load_japanese_vowels, "GunPoint": load_gunpoint}


def as_list(X):
    return [np.asarray(x, dtype=np.float32) for x in X]  # each (channels, length)


def pad(xs, length):
    arr = np.zeros((len(xs), xs[0].shape[0], length), dtype=np.float32)
    for i, x in enumerate(xs):
        arr[i, :, : x.shape[1]] = x
    return arr


def export(name, split, xs, y, classes):
    series = [{"length": int(x.shape[1]), "values": [float(v) for v in x.T.reshape(-1)]} for x in xs]
    with open(f"{out}/{name}-{split}.json", "w") as f:
        json.dump({"channels": int(xs[0].shape[0]), "classes": classes, "y": [classes.index(str(v)) for v in y], "series": series}, f)


def timed_fit(X, y, seed):
    clf = MiniRocketClassifier(random_state=seed, n_jobs=1)
    t0, c0 = time.perf_counter(), time.process_time()
    clf.fit(X, y)
    # Wall clock and CPU time of the whole process (all threads: BLAS may use several).
    return clf, (time.perf_counter() - t0, time.process_time() - c0)


data = {}
for name, load in LOADERS.items():
    Xtr, ytr = load(split="train")
    Xte, yte = load(split="test")
    xtr, xte = as_list(Xtr), as_list(Xte)
    classes = sorted({str(v) for v in ytr})
    export(name, "train", xtr, ytr, classes)
    export(name, "test", xte, yte, classes)
    longest = max(x.shape[1] for x in xtr + xte)
    data[name] = (pad(xtr, longest), ytr, pad(xte, longest), yte)

report = {"datasets": {}}
# Cold: the first fit in a fresh process (numba compiles or loads its cache), then a warm-up.
Xtr, ytr, _, _ = data["BasicMotions"]
_, (report["cold_fit_s"], report["cold_cpu_s"]) = timed_fit(Xtr, ytr, seeds[0])
timed_fit(Xtr[::5], ytr[::5], 0)
for name, (Xtr, ytr, Xte, yte) in data.items():
    runs = []
    for seed in seeds:
        clf, (fit_s, cpu_s) = timed_fit(Xtr, ytr, seed)
        acc = float(np.mean(clf.predict(Xte) == yte))
        runs.append({"seed": seed, "accuracy": acc, "fit_s": fit_s, "cpu_s": cpu_s, "alpha": float(clf.pipeline_[-1].alpha_)})
    report["datasets"][name] = {"padded_length": int(Xtr.shape[2]), "runs": runs}
print(json.dumps(report))
