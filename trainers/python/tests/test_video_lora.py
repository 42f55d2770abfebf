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
    # QLoRA asked for on a CPU: plain LoRA, and the user is told.
    assert result["details"]["quantization_used"] == "none"
    assert any("4bit needs CUDA" in e["message"] and e["level"] == "warn" for e in of(events, "log"))
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
    assert result["details"]["quantization_used"] == "none"
    assert any("4bit needs CUDA" in e["message"] for e in of(events, "log"))
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
