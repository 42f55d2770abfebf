"""
video-set datasets: the manifest, the clips it names, and their frames.

A dataset is one .zip or several uploaded files (videos plus the manifest). The manifest is the
one file named manifest.csv or manifest.jsonl (any case): among the uploads, or inside the zip
at its root or inside its single top-level folder. Its `file` column is a path relative to the
manifest's folder (separate uploads: the uploaded filename); `label` and/or `caption` go with it.
These rules are the Node validator's (src/domain/datasets/validate/video-sources.ts and
video-manifest.ts), followed here to the letter so a dataset the validator called ready names the
same clips here. Frames are decoded with PyAV, sampled uniformly over the clip and resized to a
square.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import posixpath
import random
import re
import shutil
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from trainyard_common.protocol import TrainerError

MANIFEST_NAME = re.compile(r"^manifest\.(csv|jsonl)$", re.IGNORECASE)
VIDEO_EXT = (".mp4", ".webm", ".mov", ".mkv")
COPY_BUFFER = 1024 * 1024  # zip entries are copied in 1 MiB pieces: a video is never held in memory whole


@dataclass
class Clip:
    file: str
    path: str
    label: Optional[str]
    caption: Optional[str]
    # Frame count the validator probed (ffprobe's packet count), when the dataset's stats have it.
    frames: Optional[int] = None


def _is_manifest(name: str) -> bool:
    return MANIFEST_NAME.match(name) is not None


def safe_relative(file: str) -> Optional[str]:
    """The row's path, cleaned; None where it could point outside the manifest's folder (safeRelative in TS)."""
    if "\\" in file or "\0" in file or file.startswith("/") or re.match(r"^[a-zA-Z]:", file):
        return None
    norm = posixpath.normpath(file)
    return None if norm in (".", "..") or norm.startswith("../") else norm


def _extract(zpath: str, dest: str) -> str:
    """Extracts the zip (refusing entries that would land outside dest); returns the manifest's path."""
    try:
        z = zipfile.ZipFile(zpath)
    except zipfile.BadZipFile as e:
        raise TrainerError("INVALID_DATASET", f"{os.path.basename(zpath)} is not a readable zip: {e}")
    with z:
        # Finder's resource forks are not part of anyone's dataset.
        names = [n for n in z.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
        root = os.path.realpath(dest)
        for n in names:
            target = os.path.realpath(os.path.join(dest, n))
            if not target.startswith(root + os.sep):
                raise TrainerError("INVALID_DATASET", f"zip entry {n!r} points outside the archive")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(n) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, COPY_BUFFER)
    candidates = [n for n in names if "/" not in n and _is_manifest(n)]
    tops = {n.split("/", 1)[0] for n in names}
    if not candidates and len(tops) == 1 and all("/" in n for n in names):
        top = next(iter(tops))
        candidates = [n for n in names if len(n.split("/")) == 2 and n.startswith(top + "/") and _is_manifest(n[len(top) + 1:])]
    if len(candidates) != 1:
        raise TrainerError("MANIFEST_MISSING" if not candidates else "MANIFEST_AMBIGUOUS",
                           "the zip needs exactly one manifest.csv or manifest.jsonl at its root or in its single top-level folder"
                           + (f" (found {', '.join(candidates)})" if candidates else ""))
    return os.path.join(dest, *candidates[0].split("/"))


def _text(v: Any) -> Optional[str]:
    """A cell as text, as the validator reads it: strings trimmed, numbers kept (label 3 is "3"), anything else absent."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)) and math.isfinite(v):
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    if not isinstance(v, str):
        return None
    return v.strip() or None


def _rows(path: str, name: str) -> List[Dict[str, Any]]:
    """The manifest's rows with lower-cased keys; the name (not the staged path) decides the format."""
    with open(path, "r", encoding="utf-8-sig") as f:
        text = f.read()
    if name.lower().endswith(".csv"):
        # As csv-parse with relax_column_count: blank lines skipped, short rows padded, long ones cut.
        records = [r for r in csv.reader(io.StringIO(text)) if r and not (len(r) == 1 and not r[0].strip())]
        if not records:
            return []
        columns = [c.strip().lower() for c in records[0]]
        return [dict(zip(columns, r)) for r in records[1:]]
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


def _is_zip(f: Dict[str, Any]) -> bool:
    # The protocol always gives content_type (it is what the validator went by); the name is for hand-made specs.
    ct = f.get("content_type")
    return ct == "application/zip" if ct else (f.get("filename") or f["path"]).lower().endswith(".zip")


def _probed_frames(stats: Optional[Dict[str, Any]]) -> Dict[str, int]:
    """file (as the validator normalised it) -> frame count, from the dataset's stats.videos."""
    out: Dict[str, int] = {}
    for v in (stats or {}).get("videos") or []:
        if isinstance(v, dict) and isinstance(v.get("file"), str) and isinstance(v.get("frames"), int) and v["frames"] > 0:
            out[v["file"]] = v["frames"]
    return out


def read_manifest(files: Sequence[Dict[str, Any]], workdir: str, need: str,
                  stats: Optional[Dict[str, Any]] = None) -> List[Clip]:
    """The dataset's clips; `need` is the column the trainer learns from (label or caption)."""
    zips = [f for f in files if _is_zip(f)]
    if zips:
        if len(files) > 1:
            raise TrainerError("INVALID_DATASET", "a video-set is one zip alone, or videos plus a manifest")
        manifest = _extract(zips[0]["path"], os.path.join(workdir, "dataset"))
        base = os.path.dirname(manifest)
        display = os.path.basename(manifest)
        locate = lambda rel: os.path.join(base, *rel.split("/"))  # noqa: E731
    else:
        name_of = lambda f: f.get("filename") or os.path.basename(f["path"])  # noqa: E731
        found = [f for f in files if _is_manifest(name_of(f))]
        if len(found) != 1:
            raise TrainerError("MANIFEST_MISSING" if not found else "MANIFEST_AMBIGUOUS",
                               "upload exactly one manifest.csv or manifest.jsonl with the videos")
        manifest, display = found[0]["path"], name_of(found[0])
        # Separate uploads: a row names an uploaded video by its exact filename, nothing else.
        by_name: Dict[str, List[str]] = {}
        for f in files:
            if f is not found[0] and (f.get("content_type") or "video/").startswith("video/"):
                by_name.setdefault(name_of(f), []).append(f["path"])

        def locate(rel: str) -> str:
            named = by_name.get(rel, [])
            if len(named) > 1:
                raise TrainerError("INVALID_DATASET", f"more than one uploaded file is named {rel!r}")
            return named[0] if named else ""
    probed = _probed_frames(stats)
    clips = []
    for n, r in enumerate(_rows(manifest, display), 1):
        raw = _text(r.get("file"))
        if raw is None:
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: no file")
        rel = safe_relative(raw)
        if rel is None:
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: file {raw!r} must be relative to the manifest")
        path = locate(rel)
        if not path or not os.path.isfile(path):
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: {raw} is not in the dataset")
        clip = Clip(rel, path, _text(r.get("label")), _text(r.get("caption")), probed.get(rel))
        if getattr(clip, need) is None:
            raise TrainerError("INVALID_DATASET", f"{display} row {n}: this trainer needs a {need} for every clip")
        clips.append(clip)
    if len(clips) < 2:
        raise TrainerError("DATASET_TOO_SMALL", "need at least 2 clips to hold one out for validation")
    return clips


def read_dataset(dataset: Dict[str, Any], workdir: str, need: str) -> List[Clip]:
    """read_manifest for a spec's dataset: its staged files, and its stats for the probed frame counts."""
    return read_manifest(dataset["files"], workdir, need, dataset.get("stats"))


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


def _estimate_frames(stream, container) -> int:
    """The clip's length in frames from its duration and average rate (0 when the file says neither)."""
    rate = stream.average_rate or stream.guessed_rate
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / 1_000_000  # av.time_base: microseconds
    else:
        return 0
    return int(round(seconds * float(rate))) if rate else 0


def _count_packets(path: str) -> int:
    """Frames counted by demuxing (no decoding): one video packet is one frame for the codecs a video-set holds."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size)


def _sample(path: str, want: Sequence[int], size: int) -> Tuple[Dict[int, np.ndarray], int]:
    """Decodes the clip once, converting only the frames in `want`; returns them and how many frames it had."""
    import av

    wanted = set(want)
    kept: Dict[int, np.ndarray] = {}
    seen = 0
    with av.open(path) as container:
        for i, f in enumerate(container.decode(container.streams.video[0])):
            if i in wanted:
                kept[i] = f.to_ndarray(width=size, height=size, format="rgb24")
            seen = i + 1
    return kept, seen


def decode(path: str, num_frames: int, size: int, frames: Optional[int] = None) -> np.ndarray:
    """
    (num_frames, size, size, 3) uint8 RGB frames sampled uniformly from the clip.

    Only the sampled frames are ever kept (a long clip costs decoding time, not memory). Where
    they fall needs the clip's length: `frames` (what the validator probed), else the container's
    count (often 0 for WebM/Matroska), else duration x average rate, else a demux-only count.
    An estimate that proves wrong costs one more decoding pass, still keeping only the samples.
    """
    import av

    try:
        total = int(frames or 0)
        if total <= 0:
            with av.open(path) as container:
                stream = container.streams.video[0]
                total = int(stream.frames or 0) or _estimate_frames(stream, container)
        if total <= 0:
            total = _count_packets(path)
        kept, seen = _sample(path, uniform_indices(total, num_frames), size)
        if seen and seen != total:
            total = seen
            kept, seen = _sample(path, uniform_indices(total, num_frames), size)
    except (av.FFmpegError, IndexError, OSError) as e:
        raise TrainerError("VIDEO_UNREADABLE", f"{os.path.basename(path)}: cannot decode ({e})")
    if not seen:
        raise TrainerError("VIDEO_UNREADABLE", f"{os.path.basename(path)}: no video frames")
    # Clips shorter than num_frames repeat frames rather than fail.
    return np.stack([kept[i] for i in uniform_indices(total, num_frames)])


def normalize(frames: np.ndarray, mean: Sequence[float], std: Sequence[float]):
    """uint8 (T, H, W, 3) to the float (T, 3, H, W) tensor vision towers take."""
    import torch

    x = torch.from_numpy(frames).float().div(255.0).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
