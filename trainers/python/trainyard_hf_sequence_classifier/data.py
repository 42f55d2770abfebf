"""Reading text-classification JSONL, the stratified hold-out, label ids, tokenizing and batching."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from trainyard_common import protocol as tp
from trainyard_common.protocol import TrainerError

KIND = "text-classification-jsonl"
Rows = List[Tuple[str, str]]


def read_dataset(ds: Dict[str, Any], label_types: Optional[set] = None) -> Rows:
    """
    (text, label) pairs; labels become strings so 1 and "1" name one class, as in the dataset
    stats. `label_types` collects the JSON types the labels had (to answer integers as integers).
    """
    if ds.get("kind") != KIND:
        raise TrainerError("DATASET_KIND", f"this trainer reads {KIND} datasets, got {ds.get('kind')!r}")
    opts = ds.get("options") or {}
    text_field, label_field = opts.get("text_field") or "text", opts.get("label_field") or "label"
    rows: Rows = []
    for f in ds.get("files") or []:
        name = f.get("filename") or os.path.basename(f["path"])
        with open(f["path"], "r", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                rows.append(_row(line, text_field, label_field, f"{name} line {n}", label_types))
    if not rows:
        raise TrainerError("EMPTY_DATASET", f"dataset {ds.get('id')} has no rows")
    return rows


def _row(line: str, text_field: str, label_field: str, where: str, label_types: Optional[set] = None) -> Tuple[str, str]:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise TrainerError("BAD_DATA", f"{where}: not JSON ({e})")
    if not isinstance(obj, dict):
        raise TrainerError("BAD_DATA", f"{where}: expected a JSON object")
    text, label = obj.get(text_field), obj.get(label_field)
    if not isinstance(text, str) or not text.strip():
        raise TrainerError("BAD_DATA", f'{where}: "{text_field}" must be a non-empty string')
    # bool is an int subclass in Python, but true/false is not a class id the validator accepts.
    if isinstance(label, bool) or not isinstance(label, (str, int)) or (isinstance(label, str) and not label.strip()):
        raise TrainerError("BAD_DATA", f'{where}: "{label_field}" must be a non-empty string or an integer')
    if label_types is not None:
        label_types.add(type(label))
    return text, str(label)


def read_test_set(ds: Dict[str, Any], labels: Sequence[str]) -> Rows:
    """
    The held-out test set (issue #18): same kind and fields as the training data, scored once
    at the end. Rows of a label the model does not know are skipped, and said so.
    """
    try:
        rows = read_dataset(ds)
    except TrainerError as e:
        raise TrainerError("TEST_DATASET", f"test dataset {ds.get('id')}: {e}; give it the same kind and fields as the training data")
    known = set(labels)
    unseen = sorted({label for _, label in rows} - known)
    if unseen:
        kept = [r for r in rows if r[1] in known]
        tp.log(f"test dataset: skipped {len(rows) - len(kept)} rows of labels not in the training data ({', '.join(unseen)})", "warn")
        rows = kept
    if not rows:
        raise TrainerError("TEST_DATASET", f"test dataset {ds.get('id')} has no rows of a label the model was trained on ({', '.join(labels)})")
    return rows


def label_names(rows: Rows) -> List[str]:
    labels = sorted({label for _, label in rows})
    if len(labels) < 2:
        raise TrainerError("TOO_FEW_CLASSES", f"a classifier needs at least 2 classes, found {len(labels)}")
    return labels


def stratified_split(rows: Rows, fraction: float, seed: int) -> Tuple[Rows, Rows]:
    """
    Holds out about `fraction` of each class, chosen with `seed`. A class with at least two
    examples keeps one in training, so every class the validation set asks about was seen.
    """
    rng = np.random.default_rng(seed)
    by_label: Dict[str, List[int]] = {}
    for i, (_, label) in enumerate(rows):
        by_label.setdefault(label, []).append(i)
    held: List[int] = []
    for label in sorted(by_label):
        idx = by_label[label]
        n_val = int(round(len(idx) * fraction))
        n_val = min(n_val, len(idx) - 1) if len(idx) >= 2 else 0
        held += [idx[j] for j in rng.permutation(len(idx))[:n_val]]
    held_set = set(held)
    return [r for i, r in enumerate(rows) if i not in held_set], [rows[i] for i in sorted(held)]


class Encoded:
    """Tokenized once, unpadded; batches are padded to their own longest row (dynamic padding)."""

    def __init__(self, tokenizer, rows: Rows, label2id: Dict[str, int], max_length: int):
        enc = tokenizer([t for t, _ in rows], truncation=True, max_length=max_length)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        self.features = [{k: enc[k][i] for k in keys} for i in range(len(rows))]
        self.labels = [label2id[label] for _, label in rows]
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        return len(self.features)

    def batch(self, idx: Sequence[int]) -> Dict[str, torch.Tensor]:
        b = self.tokenizer.pad([self.features[i] for i in idx], padding=True, return_tensors="pt")
        b["labels"] = torch.tensor([self.labels[i] for i in idx], dtype=torch.long)
        return dict(b)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffle of one epoch depends on (seed, epoch) only, so a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)
