"""
The PyTorch backend of the built-in text-classifier's transformer (issue #15): its training loop only.

The TypeScript trainer (src/trainers/builtin/text-classifier) still reads the data, makes the
split, fits the tokenizer, encodes the texts, draws the batches and the initial weights (its
seeded model); it writes them into an exchange folder and runs `python -m trainyard_text_torch
DIR`, which trains the same network with the same loss and optimizer here and writes the
weights back in weights.bin's layout. Scoring, artifacts and serving stay on the TypeScript
side, so a torch-trained version is served by the same predictor.
"""
