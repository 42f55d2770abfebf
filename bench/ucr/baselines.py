"""aeon's MiniRocket and 1-NN DTW on a dataset's standard train/test split.

Usage: python bench/ucr/baselines.py DATASET [--seeds 0,1,2] [--methods minirocket,dtw]
Prints one JSON line per run: {dataset, method, seed, accuracy, fit_s, predict_s, fed}.

- MiniRocketClassifier(random_state=seed), default 10,000 kernels and RidgeClassifierCV. It does
  not take unequal lengths, so those datasets (JapaneseVowels) are zero-padded at the end to the
  longest recording of train and test together (aeon's Padder, fill_value=0), as the UEA archive's
  equal-length version of JapaneseVowels is. numba compiles MiniRocket's kernels on first use;
  a throwaway fit on a few recordings runs first so fit_s is the fit, not the compilation.
- KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw"), full window (no band):
  deterministic, so it runs once. It takes unequal lengths natively: fed the raw recordings.
"""

import argparse
import json
import time

import numpy as np
from aeon.classification.convolution_based import MiniRocketClassifier
from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
from aeon.transformations.collection.unequal_length import Padder

from common import load


def equal_length(X):
    return isinstance(X, np.ndarray)


def accuracy(truth, predicted):
    return float(np.mean(np.asarray(truth) == np.asarray(predicted)))


def timed_fit_predict(clf, X_train, y_train, X_test, y_test):
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    predicted = clf.predict(X_test)
    return accuracy(y_test, predicted), fit_s, time.perf_counter() - t0


def minirocket(name, X_train, y_train, X_test, y_test, seed):
    fed = "as is"
    if not (equal_length(X_train) and equal_length(X_test)):
        longest = max(x.shape[1] for x in [*X_train, *X_test])
        pad = Padder(padded_length=longest, fill_value=0)
        X_train, X_test = pad.fit_transform(X_train), pad.transform(X_test)
        fed = f"zero-padded at the end to {longest} steps"
    # numba compiles MiniRocket's kernels on first use (and some paths only on a full-size fit):
    # one untimed fit and predict on the same split first, so fit_s is the steady-state fit
    MiniRocketClassifier(random_state=seed).fit(X_train, y_train).predict(X_test[:2])
    acc, fit_s, predict_s = timed_fit_predict(MiniRocketClassifier(random_state=seed), X_train, y_train, X_test, y_test)
    return {"accuracy": acc, "fit_s": fit_s, "predict_s": predict_s, "fed": fed}


def dtw(name, X_train, y_train, X_test, y_test, seed):
    fed = "as is" if equal_length(X_train) and equal_length(X_test) else "unequal lengths as is (DTW aligns them)"
    # the same untimed warm-up of numba's DTW as for MiniRocket: a fit and a 2-recording predict
    KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw").fit(X_train, y_train).predict(X_test[:2])
    clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
    acc, fit_s, predict_s = timed_fit_predict(clf, X_train, y_train, X_test, y_test)
    return {"accuracy": acc, "fit_s": fit_s, "predict_s": predict_s, "fed": fed}


METHODS = {"minirocket": minirocket, "dtw": dtw}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="minirocket,dtw")
    a = ap.parse_args()
    X_train, y_train = load(a.dataset, "train")
    X_test, y_test = load(a.dataset, "test")
    seeds = [int(s) for s in a.seeds.split(",")]
    for method in a.methods.split(","):
        if method not in METHODS:
            raise SystemExit(f"unknown method {method!r}; available: {', '.join(METHODS)}")
        # 1-NN DTW has no randomness: one run stands for every seed
        for seed in seeds if method == "minirocket" else seeds[:1]:
            r = METHODS[method](a.dataset, X_train, y_train, X_test, y_test, seed)
            print(json.dumps({"dataset": a.dataset, "method": method, "seed": seed, **r}), flush=True)
