"""hf-sequence-classifier: fine-tunes a BERT-family encoder for text classification ."""
