"""Classification metrics from a confusion matrix, in plain numpy."""
from __future__ import annotations

import re
from typing import Any, Dict, List

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Rows are true classes, columns predicted ones."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # An empty denominator (a class never predicted, or never present) scores 0, as sklearn's zero_division=0.
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def _macro(values: np.ndarray, seen: np.ndarray) -> float:
    return float(values[seen].mean()) if seen.any() else 0.0


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: List[str]) -> Dict[str, Any]:
    """
    Accuracy, per-class precision/recall/F1/support and their macro averages. Macro averages run
    over the classes that occur in y_true or y_pred (as sklearn does without `labels=`): a class
    missing from a small validation set would otherwise pull every average down for nothing.
    """
    k = len(labels)
    m = confusion(np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64), k)
    tp = np.diag(m).astype(np.float64)
    predicted, support = m.sum(axis=0).astype(np.float64), m.sum(axis=1).astype(np.float64)
    precision, recall = _div(tp, predicted), _div(tp, support)
    f1 = _div(2 * precision * recall, precision + recall)
    seen = (predicted + support) > 0
    total = m.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "precision": _macro(precision, seen),
        "recall": _macro(recall, seen),
        "f1": _macro(f1, seen),
        "confusion_matrix": m.tolist(),
        "per_class": {
            labels[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i in range(k)
        },
    }


def metric_key(label: str) -> str:
    """Class names become metric-name-safe: anything outside [A-Za-z0-9_] turns into '_'."""
    return re.sub(r"[^A-Za-z0-9_]", "_", label) or "_"


def per_class_metrics(report: Dict[str, Any], budget: int) -> Dict[str, float]:
    """
    precision_<c>, recall_<c>, f1_<c> for every class, or nothing when they would not fit in
    `budget` values (the worker drops a result with more than 200 metrics; details keep them all).
    Two names that sanitize alike get a numeric suffix rather than overwrite each other.
    """
    if 3 * len(report["per_class"]) > budget:
        return {}
    out: Dict[str, float] = {}
    used: set = set()
    for label, v in report["per_class"].items():
        key, n = metric_key(label), 2
        while key in used:
            key, n = f"{metric_key(label)}_{n}", n + 1
        used.add(key)
        for name in ("precision", "recall", "f1"):
            out[f"{name}_{key}"] = v[name]
    return out
