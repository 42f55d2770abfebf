"""
`python -m trainyard_hf_sequence_classifier.tiny OUT_DIR [--seed N] [--corpus FILE]`: writes a tiny,
randomly initialized BERT encoder and a WordPiece tokenizer trained here, so tests and local
runs need no download. Prints one JSON line {"path": OUT_DIR, "architecture": "bert"}.

--corpus adds the texts of a file to the tokenizer's training text (JSONL rows with a "text"
field, or plain lines), so a dataset's own words become single tokens.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Iterator, List

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from trainyard_common import protocol as tp

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Enough everyday English that common words get their own tokens and the rest split into pieces.
CORPUS = """
the quick brown fox jumps over the lazy dog while the cat sleeps on a warm mat
a good movie with great actors and a terrible ending that nobody liked at all
the team scored a late goal and won the match in front of a loud home crowd
fresh bread, cheese and tomato soup make a simple dinner for a cold evening
the new phone has a faster chip, a brighter screen and a battery that lasts
stocks fell sharply today as investors worried about rising interest rates
it was raining in the city so we stayed inside and read books all afternoon
please send the report before friday because the meeting starts on monday
the weather is sunny and bright, a perfect day for a walk in the park
i love this product, it works well and the price is fair; would buy again
this is the worst service i have ever had, slow, rude and very expensive
scientists discovered a new species of frog deep in the tropical forest
the train was late again and the station was crowded with tired people
our garden has roses, tulips and a small apple tree near the old fence
he played the guitar and she sang a song about summer nights by the sea
""".strip().splitlines()


def corpus_lines(path: str) -> Iterator[str]:
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            yield row["text"] if isinstance(row, dict) and isinstance(row.get("text"), str) else line


def train_tokenizer(lines: List[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, min_frequency=1, show_progress=False))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tok


def build(out_dir: str, seed: int = 0, corpus: str = "", vocab_size: int = 2000) -> str:
    # Heavy imports here, so `--help` stays fast.
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    lines = list(CORPUS) + (list(corpus_lines(corpus)) if corpus else [])
    tok = train_tokenizer(lines, vocab_size)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=128,
    )
    torch.manual_seed(seed)
    # Width 128 rather than 64: at 64 some seeds stall with two classes merged on small keyword tasks.
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=256, max_position_embeddings=128, pad_token_id=tok.token_to_id("[PAD]"),
    )
    os.makedirs(out_dir, exist_ok=True)
    BertModel(config).save_pretrained(out_dir, safe_serialization=True)
    hf_tok.save_pretrained(out_dir)
    return os.path.abspath(out_dir)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m trainyard_hf_sequence_classifier.tiny")
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", default="", help="JSONL (with a 'text' field) or plain text whose words the tokenizer should know")
    a = ap.parse_args()
    tp.emit({"path": build(a.out_dir, a.seed, a.corpus), "architecture": "bert"})


if __name__ == "__main__":
    main()
