"""
Held-out evaluation every classifier reports the same way (issue #18): the Python mirror of
src/trainers/builtin/evaluation.ts, so `test_accuracy` and the report under `details.test`
mean the same for a Python pack as for a built-in trainer. Same names, same shape, same rules
(macro F1 over the classes present in the truth or the predictions; an empty denominator is 0).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence


def classification_report(truth: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> Dict[str, Any]:
    """`truth` and `predicted` hold class indices into `labels`."""
    k, n = len(labels), len(truth)
    if len(predicted) != n:
        raise ValueError(f"classification_report: {n} true labels but {len(predicted)} predictions")
    confusion = [[0] * k for _ in range(k)]
    correct = 0
    for t, p in zip(truth, predicted):
        confusion[int(t)][int(p)] += 1
        correct += int(t) == int(p)
    per_class: Dict[str, Dict[str, float]] = {}
    f1s: List[float] = []
    for c in range(k):
        tp = confusion[c][c]
        support = sum(confusion[c])
        predicted_c = sum(row[c] for row in confusion)
        f1 = 2 * tp / (support + predicted_c) if support + predicted_c > 0 else 0.0
        per_class[labels[c]] = {
            "precision": tp / predicted_c if predicted_c > 0 else 0.0,
            "recall": tp / support if support > 0 else 0.0,
            "f1": f1,
            "support": support,
        }
        if support + predicted_c > 0:  # a class absent from both says nothing about this model
            f1s.append(f1)
    return {
        "accuracy": correct / n if n > 0 else math.nan,
        "macro_f1": sum(f1s) / len(f1s) if f1s else math.nan,
        "labels": list(labels),
        "confusion_matrix": confusion,
        "per_class": per_class,
        "count": n,
    }


def test_metrics(report: Dict[str, Any]) -> Dict[str, float]:
    """The flat metrics a test report adds to a result."""
    return {"test_accuracy": report["accuracy"], "test_macro_f1": report["macro_f1"]}


def label_type_of(classes: Sequence[str], raw_types: set) -> str:
    """
    What predict turns a class name back into (labels.ts `label_type`): 'integer' when every
    label in the file was a JSON integer (3, not "3"), else 'string'.
    """
    if classes and raw_types == {int} and all(-(2**53) < int(c) < 2**53 for c in classes):
        return "integer"
    return "string"


def typed_label(label: str, label_type: str) -> Any:
    """labels.ts typedLabel for the types a Python pack records."""
    if label_type in ("integer", "number"):
        n = float(label)
        return int(n) if label_type == "integer" else n
    if label_type == "boolean":
        return label.lower() == "true"
    return label
