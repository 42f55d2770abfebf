"""
Reading, formatting, tokenizing and packing chat-jsonl datasets.

A line is either a conversation {"messages": [{"role", "content"}, ...]} or plain text {"text"}.
Conversations are rendered with the tokenizer's chat template, or with a simple fallback template
("### Role:\n<content>\n\n" per turn, EOS after assistant content) when it has none, and only
assistant turns are trained on (labels are -100 elsewhere); plain text (plus EOS) is trained on
in full. An example is a pair of equal-length lists (input_ids, labels).
"""
from __future__ import annotations

import json
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from trainyard_common.protocol import TrainerError

IGNORE = -100
ROLES = ("system", "user", "assistant", "tool")

Example = Tuple[List[int], List[int]]


def read_jsonl(files: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """All rows of the dataset's files, each checked to be a conversation or a text line."""
    rows: List[Dict[str, Any]] = []
    for f in files:
        name = f.get("filename") or f["path"]
        with open(f["path"], "r", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise TrainerError("INVALID_DATASET", f"{name} line {n}: not valid JSON ({e.msg})")
                problem = _problem(row)
                if problem:
                    raise TrainerError("INVALID_DATASET", f"{name} line {n}: {problem}")
                rows.append(row)
    if not rows:
        raise TrainerError("INVALID_DATASET", "the dataset has no rows")
    return rows


def _problem(row: Any) -> Optional[str]:
    if not isinstance(row, dict):
        return "a line must be a JSON object"
    if "messages" in row:
        msgs = row["messages"]
        if not isinstance(msgs, list) or not msgs:
            return '"messages" must be a non-empty array'
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                return f'messages[{i}] must be {{"role": one of {", ".join(ROLES)}, "content": string}}'
        return None
    if isinstance(row.get("text"), str) and row["text"].strip():
        return None
    return 'expected {"messages": [...]} or {"text": "..."}'


def split(rows: List[Dict[str, Any]], share: float, seed: int) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """A seeded hold-out of `share` of the rows (at least one, and at least one left to train on)."""
    if len(rows) < 2:
        raise TrainerError("DATASET_TOO_SMALL", "need at least 2 rows to hold one out for validation")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(rows) - 1, max(1, round(len(rows) * share)))
    return [rows[i] for i in order[n_eval:]], [rows[i] for i in order[:n_eval]]


class Formatter:
    """Turns rows into token ids with labels, with the chat template or the fallback template."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        self.eos = tokenizer.eos_token_id

    def example(self, row: Dict[str, Any]) -> Example:
        if "messages" in row:
            text, spans, special = self._render(row["messages"])
        else:
            text, spans, special = row["text"] + (self.tok.eos_token or ""), None, True
        enc = self.tok(text, add_special_tokens=special, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        if spans is None:
            return ids, list(ids)
        # A token is an assistant token when its characters lie inside an assistant span.
        labels = [t if any(s <= a and b <= e and b > a for s, e in spans) else IGNORE
                  for t, (a, b) in zip(ids, enc["offset_mapping"])]
        return ids, labels

    def _render(self, messages: List[Dict[str, str]]) -> Tuple[str, List[Tuple[int, int]], bool]:
        """The conversation's text, the character spans of assistant turns, and whether the tokenizer
        should add its own special tokens (templates write BOS themselves)."""
        if not self.has_template:
            # Fallback template, for base models without one: each turn is "### Role:\n<content>\n\n",
            # assistant content followed by EOS so the model learns where its answer stops.
            parts, spans, pos = [], [], 0
            for m in messages:
                head = f"### {m['role'].capitalize()}:\n"
                body = m["content"] + ((self.tok.eos_token or "") if m["role"] == "assistant" else "")
                if m["role"] == "assistant":
                    spans.append((pos + len(head), pos + len(head) + len(body)))
                parts.append(head + body + "\n\n")
                pos += len(parts[-1])
            return "".join(parts), spans, True
        full = self._template(messages, False)
        spans, cursor = [], 0
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            # The turn is what the template adds after the generation prompt: content and end-of-turn.
            prompt = self._template(messages[:i], True) if i else None
            upto = self._template(messages[: i + 1], False)
            if prompt is not None and len(prompt) >= cursor and upto.startswith(prompt) and full.startswith(upto):
                spans.append((len(prompt), len(upto)))
                cursor = len(upto)
            else:
                # Templates that rewrite earlier turns (reasoning models) are not prefix-stable:
                # find the content itself instead.
                at = full.find(m["content"], cursor)
                if at >= 0:
                    spans.append((at, at + len(m["content"])))
                    cursor = at + len(m["content"])
        return full, spans, False

    def _template(self, messages: List[Dict[str, str]], generation_prompt: bool) -> str:
        try:
            return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
        except Exception as e:  # a template that rejects the conversation (roles, order) is a data problem
            raise TrainerError("CHAT_TEMPLATE_FAILED", f"the base model's chat template rejected a conversation: {e}")


def tokenize(rows: List[Dict[str, Any]], fmt: Formatter) -> List[Example]:
    return [fmt.example(r) for r in rows]


def truncate(examples: List[Example], max_len: int) -> List[Example]:
    """Cut to max_len tokens; examples left with nothing to learn from are dropped."""
    out = [(ids[:max_len], labels[:max_len]) for ids, labels in examples]
    return [e for e in out if any(t != IGNORE for t in e[1][1:])]


def pack(examples: List[Example], max_len: int, eos: Optional[int]) -> List[Example]:
    """Concatenate examples, EOS between them, and cut the stream into max_len blocks (the last
    may be shorter). Tokens of neighbouring examples in a block see each other, as usual for packing."""
    ids: List[int] = []
    labels: List[int] = []
    for e_ids, e_labels in examples:
        ids += e_ids
        labels += e_labels
        if eos is not None and (not e_ids or e_ids[-1] != eos):
            ids.append(eos)
            labels.append(IGNORE)
    blocks = [(ids[i:i + max_len], labels[i:i + max_len]) for i in range(0, len(ids), max_len)]
    return [b for b in blocks if any(t != IGNORE for t in b[1][1:])]


def collate(batch: List[Example], pad_id: int) -> Dict[str, torch.Tensor]:
    """Right-padded tensors; padding is masked out of attention and labels."""
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(batch):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
