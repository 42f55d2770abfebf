"""
A long-lived prediction process for the API:

    python -m trainyard_hf_sequence_classifier.predict --model DIR [--max-length N]

DIR is a trained version's artifacts folder. Prints {"ready": true, "labels": [...]} once loaded
(or {"ready": false, "error": ...} and exits 1), then answers each stdin line
{"id": ..., "inputs": ["text", ...]} with one stdout line
{"id": ..., "predictions": [{"label", "score", "scores": {label: p}}]} or {"id": ..., "error": "..."}.
"label" has the training labels' type (config.json label_type: 3, not "3"); "scores" are keyed by the class text.
A bad request never ends the process; stdin EOF or SIGTERM does, with exit code 0.
Only answers go to stdout (the protocol module sends everything else to stderr).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any, Dict, List, Optional

from trainyard_common import protocol as tp
from trainyard_common.evaluation import typed_label

BATCH = 64


class Predictor:
    def __init__(self, model_dir: str, max_length: Optional[int]):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).to(self.device).eval()
        cfg = self.model.config
        self.labels = [cfg.id2label[i] for i in range(cfg.num_labels)]
        # Models saved before label_type existed answer strings, as they did.
        self.label_type = getattr(cfg, "label_type", None) or "string"
        # Training saved its max_length as the tokenizer's model_max_length; never exceed the positions.
        limits = [n for n in (max_length, self.tokenizer.model_max_length, getattr(cfg, "max_position_embeddings", None)) if n and n < 1_000_000]
        self.max_length = min(limits) if limits else 512

    def predict(self, texts: List[str]) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        with self.torch.inference_mode():
            for start in range(0, len(texts), BATCH):
                enc = self.tokenizer(texts[start:start + BATCH], truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
                logits = self.model(**{k: v.to(self.device) for k, v in enc.items()}).logits
                for probs in logits.float().softmax(-1).cpu().tolist():
                    best = max(range(len(probs)), key=probs.__getitem__)
                    label = typed_label(self.labels[best], self.label_type)
                    out.append({"label": label, "score": probs[best], "scores": dict(zip(self.labels, probs))})
        return out


def _no_constants(name: str):
    # NaN/Infinity parse in Python but cannot be echoed back as JSON (an id of NaN would kill the reply).
    raise ValueError(f"{name} is not valid JSON")


def answer(predictor: Predictor, line: bytes) -> Dict[str, Any]:
    try:
        req = json.loads(line, parse_constant=_no_constants)
    except ValueError as e:
        return {"id": None, "error": f"not valid JSON: {e}"}
    if not isinstance(req, dict):
        return {"id": None, "error": "a request is a JSON object {\"id\": ..., \"inputs\": [...]}"}
    rid = req.get("id")
    inputs = req.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
        return {"id": rid, "error": '"inputs" must be an array of strings'}
    try:
        return {"id": rid, "predictions": predictor.predict(inputs)}
    except Exception as e:  # one failed request (say, out of memory) must not take the server down
        return {"id": rid, "error": f"{type(e).__name__}: {e}"[:2000]}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m trainyard_hf_sequence_classifier.predict")
    ap.add_argument("--model", required=True, help="folder with the artifacts of a trained version")
    ap.add_argument("--max-length", type=int, default=None, help="token limit per text (default: the training max_length)")
    a = ap.parse_args()
    # SystemExit unwinds a blocked readline or a forward pass alike: a clean stop either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        predictor = Predictor(a.model, a.max_length)
    except Exception as e:  # the API needs the reason on the protocol line, not only in stderr
        tp.emit({"ready": False, "error": f"cannot load the model from {a.model}: {type(e).__name__}: {e}"[:2000]})
        sys.exit(1)
    tp.emit({"ready": True, "labels": predictor.labels})
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        if line.strip():
            tp.emit(answer(predictor, line))


if __name__ == "__main__":
    main()
