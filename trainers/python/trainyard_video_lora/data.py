"""
video-set datasets: the manifest, the clips it names, and their frames.

A dataset is one .zip or several uploaded files (videos plus the manifest). The manifest is the
one file named manifest.csv or manifest.jsonl (any case): among the uploads, or inside the zip
at its root or inside its single top-level folder. Its `file` column is a path relative to the
manifest's folder (separate uploads: the uploaded filename); `label` and/or `caption` go with it.
Frames are decoded with PyAV, sampled uniformly over the clip and resized to a square.
"""
from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import random
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from trainyard_common.protocol import TrainerError

MANIFESTS = ("manifest.csv", "manifest.jsonl")
VIDEO_EXT = (".mp4", ".webm", ".mov", ".mkv")


@dataclass
class Clip:
    file: str
    path: str
    label: Optional[str]
    caption: Optional[str]


def _is_manifest(name: str) -> bool:
    return posixpath.basename(name).lower() in MANIFESTS


def _extract(zpath: str, dest: str) -> str:
    """Extracts the zip (refusing entries that would land outside dest); returns the manifest's path."""
    try:
        z = zipfile.ZipFile(zpath)
    except zipfile.BadZipFile as e:
        raise TrainerError("INVALID_DATASET", f"{os.path.basename(zpath)} is not a readable zip: {e}")
    with z:
        names = [n for n in z.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
        root = os.path.realpath(dest)
        for n in names:
            target = os.path.realpath(os.path.join(dest, n))
            if not target.startswith(root + os.sep):
                raise TrainerError("INVALID_DATASET", f"zip entry {n!r} points outside the archive")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(n) as src, open(target, "wb") as out:
                out.write(src.read())
    tops = {n.split("/", 1)[0] for n in names}
    candidates = [n for n in names if "/" not in n and _is_manifest(n)]
    if not candidates and len(tops) == 1:
        top = next(iter(tops))
        candidates = [n for n in names if n.count("/") == 1 and n.startswith(top + "/") and _is_manifest(n)]
    if len(candidates) != 1:
        raise TrainerError("MANIFEST_MISSING" if not candidates else "MANIFEST_AMBIGUOUS",
                           "the zip needs exactly one manifest.csv or manifest.jsonl at its root or in its single top-level folder"
                           + (f" (found {', '.join(candidates)})" if candidates else ""))
    return os.path.join(dest, candidates[0])


def _rows(path: str) -> List[Dict[str, Any]]:
    name = os.path.basename(path)
    with open(path, "r", encoding="utf-8-sig") as f:
        text = f.read()
    if name.lower().endswith(".csv"):
        return [{(k or "").strip().lower(): v for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise TrainerError("INVALID_DATASET", f"{name} line {n}: not valid JSON ({e.msg})")
        if not isinstance(row, dict):
            raise TrainerError("INVALID_DATASET", f"{name} line {n}: a line must be a JSON object")
        rows.append({str(k).lower(): v for k, v in row.items()})
    return rows


def read_manifest(files: Sequence[Dict[str, Any]], workdir: str, need: str) -> List[Clip]:
    """The dataset's clips; `need` is the column the trainer learns from (label or caption)."""
    zips = [f for f in files if (f.get("filename") or f["path"]).lower().endswith(".zip")]
    if zips:
        if len(zips) > 1:
            raise TrainerError("INVALID_DATASET", "a video-set takes one zip")
        manifest = _extract(zips[0]["path"], os.path.join(workdir, "dataset"))
        base = os.path.dirname(manifest)
        locate = lambda rel: os.path.join(base, *posixpath.normpath(rel).split("/"))  # noqa: E731
        display = os.path.basename(manifest)
    else:
        found = [f for f in files if _is_manifest(f.get("filename") or f["path"])]
        if len(found) != 1:
            raise TrainerError("MANIFEST_MISSING" if not found else "MANIFEST_AMBIGUOUS",
                               "upload exactly one manifest.csv or manifest.jsonl with the videos")
        manifest, display = found[0]["path"], found[0].get("filename") or os.path.basename(found[0]["path"])
        by_name = {(f.get("filename") or os.path.basename(f["path"])): f["path"] for f in files}
        locate = lambda rel: by_name.get(rel) or by_name.get(posixpath.basename(rel), "")  # noqa: E731
    # A manifest.csv is read as CSV whatever its case; the name decides the format.
    if display.lower().endswith(".csv") and not manifest.lower().endswith(".csv"):
        alias = os.path.join(workdir, "manifest.csv")
        with open(manifest, "rb") as s, open(alias, "wb") as d:
            d.write(s.read())
        manifest = alias
    clips = []
    for n, r in enumerate(_rows(manifest), 1):
        rel = str(r.get("file") or "").strip()
        if not rel:
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: no file")
        if posixpath.isabs(rel) or ".." in rel.split("/"):
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: file {rel!r} must be relative to the manifest")
        path = locate(rel)
        if not path or not os.path.isfile(path):
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: {rel} is not in the dataset")
        label, caption = r.get("label"), r.get("caption")
        clip = Clip(rel, path, str(label).strip() if label not in (None, "") else None,
                    str(caption).strip() if caption not in (None, "") else None)
        if getattr(clip, need) is None:
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: this trainer needs a {need} for every clip")
        clips.append(clip)
    if len(clips) < 2:
        raise TrainerError("DATASET_TOO_SMALL", "need at least 2 clips to hold one out for validation")
    return clips


def split(clips: List[Clip], share: float, seed: int, by_label: bool) -> Tuple[List[Clip], List[Clip]]:
    """A seeded hold-out of `share` of the clips; stratified by label for classification."""
    rng = random.Random(seed)
    groups: Dict[Any, List[int]] = {}
    for i, c in enumerate(clips):
        groups.setdefault(c.label if by_label else None, []).append(i)
    held: List[int] = []
    for idx in groups.values():
        rng.shuffle(idx)
        held += idx[: int(round(len(idx) * share))]
    if not held:
        held = [rng.randrange(len(clips))]
    if len(held) == len(clips):
        held = held[1:]
    hs = set(held)
    return [c for i, c in enumerate(clips) if i not in hs], [clips[i] for i in sorted(hs)]


def uniform_indices(total: int, n: int) -> List[int]:
    """n frame indices spread evenly over total frames (the middle of n equal segments)."""
    if total <= 0:
        return []
    return [min(total - 1, int((i + 0.5) * total / n)) for i in range(n)]


def decode(path: str, num_frames: int, size: int) -> np.ndarray:
    """(num_frames, size, size, 3) uint8 RGB frames sampled uniformly from the clip."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            # Keep only the sampled frames when the container knows its length (long clips stay
            # cheap); otherwise, or when that count was wrong, keep every (small, resized) frame.
            want = set(uniform_indices(int(stream.frames or 0), num_frames))
            frames = []
            for i, f in enumerate(container.decode(stream)):
                if not want or i in want:
                    frames.append(f.to_ndarray(width=size, height=size, format="rgb24"))
            if want and len(frames) < len(want):
                container.seek(0)
                frames = [f.to_ndarray(width=size, height=size, format="rgb24") for f in container.decode(stream)]
            elif want:
                return np.stack([frames[sorted(want).index(i)] for i in uniform_indices(int(stream.frames), num_frames)])
    except (av.FFmpegError, IndexError, OSError) as e:
        raise TrainerError("VIDEO_UNREADABLE", f"{os.path.basename(path)}: cannot decode ({e})")
    if not frames:
        raise TrainerError("VIDEO_UNREADABLE", f"{os.path.basename(path)}: no video frames")
    # Clips shorter than num_frames repeat frames rather than fail.
    return np.stack([frames[i] for i in uniform_indices(len(frames), num_frames)])


def normalize(frames: np.ndarray, mean: Sequence[float], std: Sequence[float]):
    """uint8 (T, H, W, 3) to the float (T, 3, H, W) tensor vision towers take."""
    import torch

    x = torch.from_numpy(frames).float().div(255.0).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
