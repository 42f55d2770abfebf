"""Instance images: loading, resizing/center-cropping, and a resumable sampling order."""
from __future__ import annotations

import os
from typing import Iterator, List, Tuple

from trainyard_common import protocol as tp

import numpy as np
import torch
from PIL import Image, ImageOps


def _square(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return img.crop((left, top, left + size, top + size))


def to_tensor(img: Image.Image) -> torch.Tensor:
    """A [1, 3, H, W] tensor in [-1, 1], the range the VAE expects."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0)


def iter_images(files: List[dict], size: int) -> Iterator[Tuple[str, torch.Tensor]]:
    """Yields (filename, pixels) per readable image; unreadable files are skipped with a warning."""
    for f in files:
        name = f.get("filename") or os.path.basename(f["path"])
        try:
            with Image.open(f["path"]) as img:
                img = ImageOps.exif_transpose(img).convert("RGB")
        except Exception as e:  # not an image PIL can read: tell the user which one
            tp.log(f"skipping {name}: not a readable image ({type(e).__name__})", "warn")
            continue
        yield name, to_tensor(_square(img, size))


def batch_indices(step: int, batch_size: int, n: int, seed: int) -> List[int]:
    """
    The items of optimizer step `step` (0-based): each epoch is a permutation seeded by (seed,
    epoch), so the order depends only on the step and a resumed run sees the same batches.
    """
    out = []
    for pos in range(step * batch_size, (step + 1) * batch_size):
        epoch, i = divmod(pos, n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        out.append(int(perm[i]))
    return out
