"""The UCR/UEA datasets the bench uses, read from the copies bundled inside the aeon package.

Nothing is downloaded: aeon 1.6.0 ships BasicMotions, JapaneseVowels and GunPoint (with their
standard TRAIN/TEST splits) under aeon/datasets/data.
"""

import numpy as np
from aeon.datasets import load_basic_motions, load_gunpoint, load_japanese_vowels

LOADERS = {
    "BasicMotions": load_basic_motions,  # multivariate: 6 channels x 100 steps, 4 classes, 40/40
    "JapaneseVowels": load_japanese_vowels,  # multivariate: 12 channels, 7..29 steps, 9 classes, 270/370
    "GunPoint": load_gunpoint,  # univariate: 150 steps, 2 classes, 50/150
}


def load(name, split):
    """(X, y): X a 3D array (n, channels, length), or a list of 2D arrays when lengths differ."""
    if name not in LOADERS:
        raise SystemExit(f"unknown dataset {name!r}; available: {', '.join(LOADERS)}")
    X, y = LOADERS[name](split=split)
    return X, np.asarray([str(v) for v in y])
