"""
End-to-end checks of the video-lora pack on the tiny models its tiny_*.py build: clips made here
with PyAV (a red square moving right, a blue one moving down, a green one standing still, on a
noisy background), the trainers run as the worker runs them (a subprocess with a job.json).
Run: PYTHONPATH=trainers/python python -m pytest trainers/python/tests/test_video_lora.py
"""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

PACK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": PACK_ROOT, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}

CLASSES = {"red-right": ((220, 30, 30), (1, 0)), "blue-down": ((30, 30, 220), (0, 1)), "green-still": ((30, 200, 30), (0, 0))}
CAPTIONS = {"red-right": "a red square moves to the right", "blue-down": "a blue square falls down",
            "green-still": "a green square stays still"}
SIZE, FRAMES = 32, 8

CLS_HP = {"epochs": 8, "learning_rate": 0.02, "batch_size": 4, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0,
          "target_modules": ["query", "value"], "quantization": "4bit", "num_frames": 4, "frame_size": 32,
          "validation_split": 0.5, "checkpoint_every": 100, "seed": 1}
CAP_HP = {"epochs": 3, "learning_rate": 0.01, "batch_size": 4, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0,
          "target_modules": ["q_proj", "v_proj"], "quantization": "4bit", "num_frames": 4, "frame_size": 32,
          "validation_split": 0.25, "checkpoint_every": 100, "seed": 1}


def write_clip(path: str, colour, motion, rng: random.Random) -> None:
    import av

    x, y = rng.randrange(2, 12), rng.randrange(2, 12)
    with av.open(path, "w") as out:
        stream = out.add_stream("mpeg4", rate=8)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        noise = np.random.default_rng(rng.randrange(1 << 30))
        for t in range(FRAMES):
            img = noise.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)
            cx, cy = x + motion[0] * 2 * t, y + motion[1] * 2 * t
            img[cy:cy + 8, cx:cx + 8] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def make_set(folder, per_class: int, seed: int, shuffle_labels: bool = False):
    """Clips and a manifest.csv (file,label,caption) in folder; returns the rows."""
    rng = random.Random(seed)
    os.makedirs(folder / "clips", exist_ok=True)
    rows = []
    for name, (colour, motion) in CLASSES.items():
        for i in range(per_class):
            rel = f"clips/{name}-{i}.mp4"
            write_clip(str(folder / rel), colour, motion, rng)
            rows.append({"file": rel, "label": name, "caption": CAPTIONS[name]})
    if shuffle_labels:
        labels = [r["label"] for r in rows]
        rng.shuffle(labels)
        for r, label in zip(rows, labels):
            r["label"] = label
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label", "caption"])
        w.writeheader()
        w.writerows(rows)
    return rows


def zip_set(folder, zpath, top: str = "") -> str:
    """The set as one zip, optionally inside a single top-level folder."""
    with zipfile.ZipFile(zpath, "w") as z:
        for root, _, files in os.walk(folder):
            for f in files:
                full = os.path.join(root, f)
                z.write(full, os.path.join(top, os.path.relpath(full, folder)))
    return str(zpath)


def make_spec(tmp, trainer, base, files, name, hp, **over):
    d = tmp / name
    spec = {"protocol": 1, "job_id": f"job_{name}", "attempt": 1, "trainer": trainer,
            "base_model": {"id": "tiny", "path": base}, "hyperparameters": {**hp, **over},
            "inputs": {"dataset": {"id": "ds", "kind": "video-set", "options": {}, "stats": None, "files": files},
                       "validation_dataset": None},
            "output_dir": str(d / "out"), "checkpoint_dir": str(d / "ckpt"), "resume_from": None, "init_from": None}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(spec))
    return spec, str(path)


def assert_quantization(result, events):
    """4bit was asked for: used on CUDA; on a CPU plain LoRA, and the user is told."""
    import torch

    warned = any("4bit needs CUDA" in e["message"] and e["level"] == "warn" for e in of(events, "log"))
    if torch.cuda.is_available():
        assert result["details"]["quantization_used"] == "4bit" and not warned
    else:
        assert result["details"]["quantization_used"] == "none" and warned


def cmd(spec_path, module):
    return [sys.executable, "-m", f"trainyard_video_lora.{module}", "--spec", spec_path]


def run(spec_path, module):
    p = subprocess.run(cmd(spec_path, module), env=ENV, capture_output=True, text=True, timeout=300)
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()], p.stderr


def of(events, kind):
    return [e for e in events if e["type"] == kind]


def build(tmp, kind):
    out = subprocess.run([sys.executable, "-m", f"trainyard_video_lora.tiny_{kind}", str(tmp / kind), "--seed", "0"],
                         env=ENV, capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["path"]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("video_lora")


@pytest.fixture(scope="module")
def clips(tmp):
    """20 clips a class, zipped inside a top-level folder."""
    make_set(tmp / "set", 20, seed=3)
    return [{"path": zip_set(tmp / "set", tmp / "set.zip", top="videos"), "filename": "set.zip", "content_type": "application/zip"}]


@pytest.fixture(scope="module")
def small_clips(tmp):
    """6 clips a class as separate uploads (videos and manifest.csv), as several files."""
    rows = make_set(tmp / "small", 6, seed=4)
    files = [{"path": str(tmp / "small" / r["file"]), "filename": os.path.basename(r["file"]), "content_type": "video/mp4"}
             for r in rows]
    # Separate uploads: `file` names the uploaded filename.
    with open(tmp / "small" / "MANIFEST.CSV", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label", "caption"])
        w.writeheader()
        w.writerows({**r, "file": os.path.basename(r["file"])} for r in rows)
    return files + [{"path": str(tmp / "small" / "MANIFEST.CSV"), "filename": "MANIFEST.CSV", "content_type": "text/csv"}]


@pytest.fixture(scope="module")
def videomae(tmp):
    return build(tmp, "videomae")


@pytest.fixture(scope="module")
def classified(tmp, videomae, clips):
    spec, path = make_spec(tmp, "video-lora-classifier", videomae, clips, "cls", CLS_HP)
    rc, events, err = run(path, "classify")
    assert rc == 0, err
    return spec, events


def test_uniform_sampling():
    from trainyard_video_lora.data import uniform_indices

    assert uniform_indices(8, 4) == [1, 3, 5, 7]
    assert uniform_indices(2, 4) == [0, 0, 1, 1]
    assert uniform_indices(100, 1) == [50]


def test_classifier_learns_the_classes(classified):
    spec, events = classified
    result = of(events, "result")[-1]
    m = result["metrics"]
    assert m["val_loss"] < m["first_val_loss"], m
    assert m["val_accuracy"] > 0.8, m  # chance is 1/3
    for name in ("val_f1", "val_f1_red_right", "val_f1_blue_down", "val_f1_green_still", "train_loss", "clips_per_second"):
        assert name in m, name
    assert result["details"]["labels"] == sorted(CLASSES)
    assert_quantization(result, events)
    evals = [e for e in of(events, "metrics") if "val_accuracy" in e["values"]]
    assert len(evals) == CLS_HP["epochs"] + 1 and evals[0]["step"] == 0


def test_classifier_artifact_loads_with_peft(classified):
    import torch
    from peft import PeftModel
    from transformers import VideoMAEForVideoClassification

    spec, events = classified
    arts = {e["name"]: e["format"] for e in of(events, "artifact")}
    assert arts == {"adapter_config.json": "peft-adapter-config", "adapter_model.safetensors": "safetensors-peft",
                    "labels.json": "label-map", "README.md": "model-card"}
    labels = json.load(open(os.path.join(spec["output_dir"], "labels.json")))
    assert labels["labels"] == sorted(CLASSES) and labels["num_frames"] == 4
    base = VideoMAEForVideoClassification.from_pretrained(
        spec["base_model"]["path"], num_labels=3, num_frames=4, image_size=32, ignore_mismatched_sizes=True)
    model = PeftModel.from_pretrained(base, spec["output_dir"]).eval()
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        tuned = model(pixel_values=x).logits
        with model.disable_adapter():
            plain = model(pixel_values=x).logits
    assert tuned.shape == (2, 3) and not torch.allclose(tuned, plain, atol=1e-3)


def test_classifier_at_chance_on_shuffled_labels(tmp, videomae):
    make_set(tmp / "shuffled", 20, seed=3, shuffle_labels=True)
    files = [{"path": zip_set(tmp / "shuffled", tmp / "shuffled.zip"), "filename": "shuffled.zip"}]
    spec, path = make_spec(tmp, "video-lora-classifier", videomae, files, "shuffled", CLS_HP)
    rc, events, err = run(path, "classify")
    assert rc == 0, err
    # 30 held-out clips, labels unrelated to content: accuracy stays near 1/3 (P(>= 0.6) < 0.1%).
    assert of(events, "result")[-1]["metrics"]["val_accuracy"] < 0.6


def test_sigterm_checkpoint_and_resume(tmp, videomae, clips, classified):
    spec, path = make_spec(tmp, "video-lora-classifier", videomae, clips, "sigterm", CLS_HP)
    events = []
    with open(tmp / "sigterm.err", "w") as err:
        p = subprocess.Popen(cmd(path, "classify"), env=ENV, stdout=subprocess.PIPE, stderr=err, text=True)
        guard = threading.Timer(120, p.kill)
        guard.start()
        for line in p.stdout:
            events.append(json.loads(line))
            if events[-1]["type"] == "metrics" and events[-1]["step"] >= 3:
                p.send_signal(signal.SIGTERM)
                break
        events += [json.loads(line) for line in p.stdout]
        rc = p.wait()
        guard.cancel()
    assert rc == 143, open(tmp / "sigterm.err").read()
    ckpts = of(events, "checkpoint")
    assert len(ckpts) == 1 and os.path.isfile(ckpts[0]["path"])
    n = ckpts[0]["step"]
    assert n == of(events, "progress")[-1]["step"] and n < of(events, "progress")[-1]["total_steps"]
    assert not of(events, "result")

    rc, resumed, err = run(path, "classify")
    assert rc == 0, err
    assert any(f"resumed from step {n}" in e["message"] for e in of(resumed, "log"))
    assert [e["step"] for e in of(resumed, "progress")][0] == n + 1
    # Adapter, head, optimizer, scheduler, RNG and data order restored: the same result as never stopping.
    uninterrupted = of(classified[1], "result")[-1]["metrics"]
    result = of(resumed, "result")[-1]["metrics"]
    for k in ("first_val_loss", "val_loss", "train_loss", "val_accuracy"):
        assert result[k] == pytest.approx(uninterrupted[k], rel=1e-4), k


@pytest.mark.parametrize("kind", ["idefics", "video_llava"])
def test_captioner_learns(tmp, small_clips, kind):
    base = build(tmp, kind)
    spec, path = make_spec(tmp, "video-lora-captioner", base, small_clips, f"cap_{kind}", CAP_HP)
    rc, events, err = run(path, "caption")
    assert rc == 0, err
    result = of(events, "result")[-1]
    m = result["metrics"]
    assert m["eval_loss"] < m["first_eval_loss"] - 0.5, m
    assert m["perplexity"] == pytest.approx(np.exp(m["eval_loss"]), rel=1e-3)
    assert result["details"]["architecture"] == {"idefics": "flamingo", "video_llava": "video_llama"}[kind]
    assert_quantization(result, events)
    samples = result["details"]["sample_captions"]
    assert len(samples) == 3 and all(s["reference"] in CAPTIONS.values() for s in samples)
    assert sum("sample caption for" in e["message"] for e in of(events, "log")) == 3
    assert json.load(open(os.path.join(spec["output_dir"], "samples.json"))) == samples
    assert {e["name"] for e in of(events, "artifact")} == {"adapter_config.json", "adapter_model.safetensors",
                                                          "samples.json", "prompt.json", "README.md"}


def test_wrong_base_model_and_missing_column(tmp, videomae, small_clips):
    # In-process: the same checks the trainers run first, without paying for two more processes.
    from trainyard_common.protocol import TrainerError
    from trainyard_video_lora import data as D
    from trainyard_video_lora import models as M

    with pytest.raises(TrainerError) as e:
        M.architecture(videomae, ("flamingo", "video_llama"))
    assert e.value.code == "BASE_MODEL_UNSUPPORTED" and "videomae" in str(e.value)
    no_labels = [f for f in small_clips if f["filename"] != "MANIFEST.CSV"]
    (tmp / "nolabel").mkdir()
    manifest = tmp / "nolabel" / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"file": f["filename"], "caption": "x"}) + "\n" for f in no_labels))
    files = no_labels + [{"path": str(manifest), "filename": "manifest.jsonl"}]
    assert len(D.read_manifest(files, str(tmp / "nolabel"), "caption")) == len(no_labels)
    with pytest.raises(TrainerError) as e:
        D.read_manifest(files, str(tmp / "nolabel"), "label")
    assert e.value.code == "INVALID_DATASET" and "needs a label" in str(e.value)


def write_numbered(path: str, frames: int, codec: str = "libvpx") -> None:
    """A clip whose frame t shows t in binary: 8 vertical stripes of 8 px, white for a 1 bit."""
    import av

    with av.open(path, "w") as out:
        stream = out.add_stream(codec, rate=24)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 4_000_000
        for t in range(frames):
            img = np.zeros((64, 64, 3), np.uint8)
            for b in range(8):
                if (t >> b) & 1:
                    img[:, b * 8:(b + 1) * 8] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def frame_number(frame) -> int:
    return sum(1 << b for b in range(8) if frame[:, b * 8 + 2:(b + 1) * 8 - 2].mean() > 128)


def test_decode_keeps_only_the_sampled_frames(tmp, monkeypatch):
    import tracemalloc

    import av
    from trainyard_video_lora import data as D

    path = str(tmp / "numbered.webm")
    write_numbered(path, 240)
    with av.open(path) as c:
        assert c.streams.video[0].frames == 0  # WebM does not say how many frames it has
    one_frame = 64 * 64 * 3
    # The validator's probed count, none (duration x rate), a wrong one, and none with no estimate either.
    cases = [(240, False), (None, False), (300, False), (None, True)]
    for hint, no_estimate in cases:
        with monkeypatch.context() as m:
            if no_estimate:
                m.setattr(D, "_estimate_frames", lambda *_: 0)
            tracemalloc.start()
            try:
                frames = D.decode(path, 4, 64, hint)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert [frame_number(f) for f in frames] == [30, 90, 150, 210], (hint, no_estimate)
        # 4 frames kept (and one being converted), never the 240 of the clip (2.9 MB).
        assert peak < 10 * one_frame, (hint, no_estimate, peak)


def test_zip_entry_outside_the_archive_is_refused(tmp):
    from trainyard_common.protocol import TrainerError
    from trainyard_video_lora import data as D

    (tmp / "evil").mkdir()
    zpath = tmp / "evil" / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("manifest.csv", "file,label\nok.mp4,x\n../evil.mp4,y\n")
        z.writestr("ok.mp4", b"not really")
        z.writestr(zipfile.ZipInfo("../evil.mp4"), b"would land beside the dataset folder")
    assert "../evil.mp4" in zipfile.ZipFile(zpath).namelist()
    work = tmp / "evil" / "work"
    work.mkdir()
    with pytest.raises(TrainerError) as e:
        D.read_manifest([{"path": str(zpath), "filename": "evil.zip", "content_type": "application/zip"}], str(work), "label")
    assert e.value.code == "INVALID_DATASET" and "../evil.mp4" in str(e.value) and "outside" in str(e.value)
    assert not (work / "evil.mp4").exists()


def test_manifest_rows_resolve_as_the_validator_resolves_them(tmp):
    """The Node validator's rule (video-sources.ts, safeRelative): nothing looser, nothing stricter."""
    from trainyard_common.protocol import TrainerError
    from trainyard_video_lora import data as D

    d = tmp / "rule"
    (d / "up").mkdir(parents=True)
    for n in ("a.mp4", "b.mp4"):
        (d / "up" / n).write_bytes(b"x")
    upload = lambda name, path=None: {"path": str(path or d / "up" / name), "filename": name,  # noqa: E731
                                      "content_type": "text/csv" if name.endswith(".csv") else "video/mp4"}

    def uploads(manifest: str, *videos):
        (d / "up" / "manifest.csv").write_text(manifest)
        return [upload("manifest.csv"), *videos]

    stats = {"videos": [{"file": "a.mp4", "frames": 42}, {"file": "b.mp4", "frames": 7}]}
    clips = D.read_manifest(uploads("file,label\n./a.mp4,x\nb.mp4,y\n", upload("a.mp4"), upload("b.mp4")), str(d), "label", stats)
    assert [(c.file, c.label, c.frames) for c in clips] == [("a.mp4", "x", 42), ("b.mp4", "y", 7)]

    refusals = {
        # Separate uploads are named by their filename only: no falling back to the basename.
        "file,label\nclips/a.mp4,x\nb.mp4,y\n": "not in the dataset",
        "file,label\nclips\\a.mp4,x\nb.mp4,y\n": "must be relative",
        "file,label\n../a.mp4,x\nb.mp4,y\n": "must be relative",
        "file,label\n/up/a.mp4,x\nb.mp4,y\n": "must be relative",
    }
    for manifest, message in refusals.items():
        with pytest.raises(TrainerError) as e:
            D.read_manifest(uploads(manifest, upload("a.mp4"), upload("b.mp4")), str(d), "label")
        assert e.value.code == "INVALID_DATASET" and message in str(e.value), manifest
    (d / "other").mkdir()
    (d / "other" / "a.mp4").write_bytes(b"y")
    with pytest.raises(TrainerError) as e:
        D.read_manifest(uploads("file,label\na.mp4,x\nb.mp4,y\n", upload("a.mp4"), upload("a.mp4", d / "other" / "a.mp4"),
                                upload("b.mp4")), str(d), "label")
    assert "more than one uploaded file is named 'a.mp4'" in str(e.value)

    # In a zip: a manifest in the single top-level folder, but not when a file sits beside that folder.
    for extra, ok in (([], True), ([("stray.txt", b"x")], False)):
        zpath = d / f"set{len(extra)}.zip"
        with zipfile.ZipFile(zpath, "w") as z:
            z.writestr("top/manifest.jsonl", '{"file": "a.mp4", "label": 3}\n{"file": "b.mp4", "label": "y"}\n')
            for n in ("a.mp4", "b.mp4"):
                z.writestr(f"top/{n}", b"x")
            for n, data in extra:
                z.writestr(n, data)
        files = [{"path": str(zpath), "filename": "set.zip", "content_type": "application/zip"}]
        if ok:
            assert [(c.file, c.label) for c in D.read_manifest(files, str(d / "w0"), "label")] == [("a.mp4", "3"), ("b.mp4", "y")]
        else:
            with pytest.raises(TrainerError) as e:
                D.read_manifest(files, str(d / "w1"), "label")
            assert e.value.code == "MANIFEST_MISSING"
