"""
The sequence-classifier's PyTorch loop (trainyard_sequence_torch) on its own: the tfjs weight
layouts round-trip, the shuffle is runtime.ts's, and `python -m trainyard_sequence_torch DIR`
trains on an exchange folder as the TypeScript trainer writes it (torch_learner.ts), reports
every epoch, restores the best weights, and stops on SIGTERM with the epoch-start state.
The forward pass against tfjs itself is checked in test/python/sequence-torch.test.ts.
Run: PYTHONPATH=trainers/python python -m pytest trainers/python/tests/test_sequence_torch.py
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trainyard_sequence_torch.__main__ import Rng  # noqa: E402
from trainyard_sequence_torch.models import build  # noqa: E402

PACK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": PACK_ROOT, "OMP_NUM_THREADS": "1"}
ARCHS = ["original", "enhanced_cnn_lstm", "resnet_lstm", "transformer"]
L, NF, NC = 8, 3, 2


def arch_job(arch: str) -> dict:
    return {"arch": arch, "sequence_length": L, "features": NF, "classes": NC, "dropout": 0.2, "use_separable": True, "use_relative_pos": True}


def test_rng_is_runtime_ts_mulberry32():
    # new Rng(42): next() ×3 and shuffle of 0..9, as runtime.ts computes them.
    r = Rng(42)
    assert [round(r.next(), 12) for _ in range(3)] == [round(x, 12) for x in (0.6011037519201636, 0.44829055899754167, 0.8524657934904099)]


@pytest.mark.parametrize("arch", ARCHS)
def test_tfjs_layout_round_trips(arch):
    model = build(arch_job(arch))
    tfjs = model.to_tfjs()
    rng = np.random.default_rng(0)
    moved = [rng.standard_normal(a.shape).astype(np.float32) for a in tfjs]
    model.load_tfjs(moved)
    for a, b in zip(model.to_tfjs(), moved):
        assert a.shape == b.shape and np.array_equal(a, b)
    with pytest.raises(ValueError):
        model.load_tfjs(moved[:-1])


def write_exchange(d, arch: str, epochs: int, n: int = 96, patience: int = 0) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, NC, n).astype("<i4")
    x = (rng.standard_normal((n, L, NF)) + y[:, None, None] * 1.5).astype("<f4")
    model = build(arch_job(arch))
    init = model.to_tfjs()
    ntr = n * 3 // 4
    x[:ntr].tofile(d / "train_x.f32")
    y[:ntr].tofile(d / "train_y.i32")
    x[ntr:].tofile(d / "val_x.f32")
    y[ntr:].tofile(d / "val_y.i32")
    np.concatenate([a.reshape(-1) for a in init]).astype("<f4").tofile(d / "init.f32")
    batches = -(-ntr // 16)
    np.full(epochs * batches, 0.01, dtype="<f8").tofile(d / "lr.f64")
    job = {
        **arch_job(arch), "l1": 1e-5, "l2": 1e-4, "batch_size": 16, "epochs": epochs, "patience": patience, "min_epochs": 0,
        "seed": 1, "shuffle_seed": 7, "class_weights": [1.0, 1.0], "device": "cpu", "threads": 1,
        "weights": [{"shape": list(a.shape)} for a in init], "init": "init.f32",
        "train_x": {"file": "train_x.f32", "dtype": "f32", "shape": [ntr, L, NF]}, "train_y": {"file": "train_y.i32", "dtype": "i32", "shape": [ntr]},
        "val_x": {"file": "val_x.f32", "dtype": "f32", "shape": [n - ntr, L, NF]}, "val_y": {"file": "val_y.i32", "dtype": "i32", "shape": [n - ntr]},
        "lr": "lr.f64", "resume": None,
    }  # fmt: skip
    (d / "job.json").write_text(json.dumps(job))


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("arch", ARCHS)
def test_trains_on_an_exchange_folder(tmp_path, arch):
    write_exchange(tmp_path, arch, epochs=3)
    p = subprocess.run([sys.executable, "-m", "trainyard_sequence_torch", str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    ev = events(p.stdout)
    assert ev[0]["type"] == "ready" and ev[0]["device"] == "cpu"
    assert [e["epoch"] for e in ev if e["type"] == "epoch"] == [1, 2, 3]
    done = ev[-1]
    assert done["type"] == "done" and done["epochs_run"] == 3
    final = np.fromfile(tmp_path / done["weights"], dtype="<f4")
    assert final.size == np.fromfile(tmp_path / "init.f32", dtype="<f4").size
    assert not np.array_equal(final, np.fromfile(tmp_path / "init.f32", dtype="<f4"))
    probs = np.fromfile(tmp_path / "val-probs.f32", dtype="<f4").reshape(-1, NC)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    sd = torch.load(tmp_path / done["state_dict"])
    assert sum(v.numel() for v in sd.values()) > 0


def test_sigterm_reports_the_epoch_start_state(tmp_path):
    write_exchange(tmp_path, "enhanced_cnn_lstm", epochs=200, n=2000)
    p = subprocess.Popen([sys.executable, "-m", "trainyard_sequence_torch", str(tmp_path)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stdout:
        seen.append(json.loads(line))
        if seen[-1]["type"] == "epoch" and seen[-1]["epoch"] == 2:
            p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    assert p.returncode == 0, p.stderr.read()[-2000:]
    stopped = seen[-1]
    assert stopped["type"] == "stopped" and stopped["epoch"] >= 2
    size = np.fromfile(tmp_path / "init.f32", dtype="<f4").size
    assert np.fromfile(tmp_path / stopped["weights"], dtype="<f4").size == size
    assert np.fromfile(tmp_path / stopped["moments"], dtype="<f4").size == 2 * size
    assert stopped["iterations"] == stopped["epoch"] * (-(-1500 // 16))
