"""
The PyTorch backend of the built-in sequence-classifier (issue #15): its training loop only.

The TypeScript trainer (src/trainers/builtin/sequence-classifier) still prepares the data, the
split, the class weights, the learning-rate schedule and the initial weights (its tfjs model,
built with the job's seed); it writes them into an exchange folder and runs
`python -m trainyard_sequence_torch DIR`, which trains the same architecture with the same loss
and optimizer here and writes the weights back in the tfjs layout. Scoring, artifacts and
serving stay on the TypeScript side, so a torch-trained version is served by the same predictor.
"""
