"""Loading the encoder and tokenizer: from the base model, or warm-started from a previous version."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from trainyard_common import protocol as tp
from trainyard_common.protocol import TrainerError


def _previous_labels(init_from: str) -> Tuple[List[str], Dict[str, Any]]:
    cfg_path, weights = os.path.join(init_from, "config.json"), os.path.join(init_from, "model.safetensors")
    if not (os.path.isfile(cfg_path) and os.path.isfile(weights)):
        raise TrainerError("INIT_FROM_INVALID", "the model version to retrain from has no config.json + model.safetensors from this trainer")
    with open(cfg_path, "r", encoding="utf-8") as f:
        cfg = json.load(f)
    id2label = cfg.get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)], cfg


def load(base_path: str, init_from: Optional[str], labels: List[str]):
    """
    (model, tokenizer). A warm start needs the same label set (same sorted order, so the same
    ids) and the same architecture as the base model, whose tokenizer it keeps using.
    """
    id2label = {i: label for i, label in enumerate(labels)}
    label2id = {label: i for i, label in enumerate(labels)}
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        if init_from:
            previous, cfg = _previous_labels(init_from)
            if previous != labels:
                raise TrainerError("LABELS_CHANGED", f"the previous version was trained on labels {previous}, this dataset has {labels}: train a new model instead of retraining")
            base_cfg = AutoConfig.from_pretrained(base_path)
            if cfg.get("model_type") != base_cfg.model_type or cfg.get("vocab_size") != getattr(base_cfg, "vocab_size", None):
                raise TrainerError("INIT_FROM_MISMATCH", f"the previous version is a {cfg.get('model_type')} model, not one built on this {base_cfg.model_type} base model")
            model = AutoModelForSequenceClassification.from_pretrained(init_from, num_labels=len(labels), id2label=id2label, label2id=label2id)
            tp.log(f"warm start from the previous version ({len(labels)} labels)")
        else:
            model = AutoModelForSequenceClassification.from_pretrained(
                base_path, num_labels=len(labels), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True
            )
    except (OSError, ValueError, KeyError) as e:
        raise TrainerError("BASE_MODEL_INVALID", f"cannot load a sequence-classification model and tokenizer: {e}")
    if tokenizer.pad_token is None:
        # Decoder-style tokenizers have no pad token; batches still need one, and attention masks hide it.
        if tokenizer.eos_token is None:
            raise TrainerError("BASE_MODEL_INVALID", "the tokenizer has neither a pad nor an end-of-sequence token")
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def usable_length(requested: int, model, tokenizer) -> int:
    """max_length, capped by what the model's position embeddings and the tokenizer allow."""
    limits = [requested, getattr(model.config, "max_position_embeddings", None) or requested]
    if tokenizer.model_max_length and tokenizer.model_max_length < 1_000_000:
        limits.append(tokenizer.model_max_length)
    n = min(limits)
    if n < requested:
        tp.log(f"max_length {requested} exceeds what this model reads; using {n}", "warn")
    return n
