"""
End-to-end checks of the lora-causal-lm pack on a tiny random Llama built by its tiny.py: the
trainer runs as the worker runs it (a subprocess with a job.json), and its adapter is loaded
back with PEFT. Run: PYTHONPATH=trainers/python python -m pytest trainers/python/tests/test_lora_causal_lm.py
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

PACK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One thread: tiny matrices gain nothing from more, and a busy 2-core machine loses a lot.
ENV = {**os.environ, "PYTHONPATH": PACK_ROOT, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}

# An easily learnable mapping: the answer depends only on the thing asked about.
COLOURS = {"apple": "red", "banana": "yellow", "grass": "green", "sky": "blue",
           "snow": "white", "coal": "black", "plum": "violet", "orange": "orange"}

HP = {"epochs": 4, "learning_rate": 0.02, "batch_size": 4, "gradient_accumulation_steps": 1,
      "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
      "max_seq_length": 64, "packing": False, "quantization": "4bit", "seed": 1,
      "validation_split": 0.1, "warmup_ratio": 0.03, "checkpoint_every": 10}


def conversations(n: int = 40):
    things = list(COLOURS)
    for i in range(n):
        thing = things[i % len(things)]
        system = [{"role": "system", "content": "Answer in one word."}] if i % 2 else []
        yield {"messages": system + [{"role": "user", "content": f"What colour is the {thing}?"},
                                     {"role": "assistant", "content": COLOURS[thing]}]}


def texts(n: int = 40):
    things = list(COLOURS)
    for i in range(n):
        yield {"text": f"The {things[i % len(things)]} is {COLOURS[things[i % len(things)]]}."}


def write_jsonl(path, rows) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return str(path)


def make_spec(tmp, base, data_path, name, **hp):
    d = tmp / name
    spec = {"protocol": 1, "job_id": f"job_{name}", "attempt": 1, "trainer": "lora-causal-lm",
            "base_model": {"id": "tiny", "path": base}, "hyperparameters": {**HP, **hp},
            "inputs": {"dataset": {"id": "ds", "kind": "chat-jsonl", "options": {}, "stats": None,
                                   "files": [{"path": data_path, "filename": "data.jsonl",
                                              "content_type": "application/x-ndjson"}]},
                       "validation_dataset": None},
            "output_dir": str(d / "out"), "checkpoint_dir": str(d / "ckpt"), "resume_from": None, "init_from": None}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(spec))
    return spec, str(path)


def cmd(spec_path):
    return [sys.executable, "-m", "trainyard_lora_causal_lm", "--spec", spec_path]


def run(spec_path):
    p = subprocess.run(cmd(spec_path), env=ENV, capture_output=True, text=True, timeout=120)
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()], p.stderr


def of(events, kind):
    return [e for e in events if e["type"] == kind]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("lora_causal_lm")


@pytest.fixture(scope="module")
def base(tmp):
    out = subprocess.run([sys.executable, "-m", "trainyard_lora_causal_lm.tiny", str(tmp / "tiny"), "--seed", "0"],
                         env=ENV, capture_output=True, text=True, timeout=60, check=True).stdout
    info = json.loads(out.strip().splitlines()[-1])
    assert info["architecture"] == "llama"
    return info["path"]


@pytest.fixture(scope="module")
def chat_data(tmp):
    return write_jsonl(tmp / "chat.jsonl", conversations())


@pytest.fixture(scope="module")
def trained(tmp, base, chat_data):
    spec, path = make_spec(tmp, base, chat_data, "chat")
    rc, events, err = run(path)
    assert rc == 0, err
    return spec, events


def test_assistant_only_labels(base):
    from transformers import AutoTokenizer
    from trainyard_lora_causal_lm import data as D

    tok = AutoTokenizer.from_pretrained(base)
    row = next(iter(conversations(2)))
    for has_template in (True, False):
        fmt = D.Formatter(tok)
        fmt.has_template = has_template
        ids, labels = fmt.example(row)
        assert len(ids) == len(labels)
        trained_text = tok.decode([t for t in labels if t != D.IGNORE])
        assert trained_text.strip() == "red" + tok.eos_token
    ids, labels = D.Formatter(tok).example({"text": "The sky is blue."})
    assert ids == labels and ids[-1] == tok.eos_token_id


def test_4bit_on_cuda_without_bitsandbytes(base, monkeypatch):
    import torch
    from trainyard_common.protocol import TrainerError
    from transformers import AutoModelForCausalLM
    from trainyard_common import peft_utils as PU

    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # makes `import bitsandbytes` fail
    with pytest.raises(TrainerError) as e:
        PU.load_frozen(AutoModelForCausalLM, base, "4bit", torch.device("cuda"))
    assert e.value.code == "QUANTIZATION_UNAVAILABLE"


def test_gradient_checkpointing_is_a_choice(base):
    import torch
    from transformers import AutoModelForCausalLM
    from trainyard_common import peft_utils as PU

    # Unset: off without 4-bit (it costs about a third more compute); asked for: on, and training still runs.
    off, _ = PU.load_frozen(AutoModelForCausalLM, base, "none", torch.device("cpu"))
    on, _ = PU.load_frozen(AutoModelForCausalLM, base, "none", torch.device("cpu"), gradient_checkpointing=True,
                           attn_implementation="eager")
    assert not off.is_gradient_checkpointing and on.is_gradient_checkpointing
    assert on.config._attn_implementation == "eager"
    spec = {"hyperparameters": {}}
    model = PU.adapt(on, spec, {"lora_rank": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj"]}, task_type="CAUSAL_LM")
    model.train()
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    model(input_ids=ids, labels=ids).loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_learns(trained):
    spec, events = trained
    result = of(events, "result")[-1]
    m = result["metrics"]
    assert m["eval_loss"] < m["first_eval_loss"] - 1.0, m
    for k in ("eval_loss", "perplexity", "train_loss", "first_eval_loss", "tokens_per_second", "train_time_s"):
        assert k in m
    assert result["details"]["quantization_used"] == "none"
    assert any("needs CUDA" in e["message"] for e in of(events, "log"))
    # The tiny Llama's logits are plainly lm_head(hidden): the chunked loss was checked and used.
    assert any(e["message"].startswith("loss: output layer and cross-entropy in chunks") for e in of(events, "log"))
    steps = [e["step"] for e in of(events, "progress")]
    total = of(events, "progress")[0]["total_steps"]
    assert steps == list(range(1, total + 1))
    assert [e["step"] for e in of(events, "checkpoint")] == [s for s in range(10, total, 10)]
    evals = [e for e in of(events, "metrics") if "eval_loss" in e["values"]]
    assert len(evals) == HP["epochs"] + 1 and evals[0]["step"] == 0


def test_artifacts_load_and_change_logits(trained):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec, events = trained
    arts = {e["name"]: e for e in of(events, "artifact")}
    assert {n: a["format"] for n, a in arts.items()} == {
        "adapter_config.json": "peft-adapter-config", "adapter_model.safetensors": "safetensors-peft",
        "README.md": "model-card"}
    for a in arts.values():
        assert os.path.isfile(a["path"]) and os.path.dirname(a["path"]) == spec["output_dir"]
    assert "PeftModel.from_pretrained" in open(arts["README.md"]["path"]).read()

    base_path = spec["base_model"]["path"]
    tok = AutoTokenizer.from_pretrained(base_path)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), spec["output_dir"]).eval()
    msgs = [{"role": "user", "content": "What colour is the sky?"}]
    inputs = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        tuned = model(**inputs).logits[0, -1]
        with model.disable_adapter():
            plain = model(**inputs).logits[0, -1]
    assert not torch.allclose(tuned, plain, atol=1e-3)
    # The mapping is being learned: the answer's first token became more likely.
    answer = tok("blue", add_special_tokens=False)["input_ids"][0]
    assert tuned.log_softmax(-1)[answer] > plain.log_softmax(-1)[answer] + 1.0


def test_warm_start(tmp, base, chat_data, trained):
    first, _ = trained
    spec, path = make_spec(tmp, base, chat_data, "warm", epochs=1)
    spec["init_from"] = first["output_dir"]
    open(path, "w").write(json.dumps(spec))
    rc, events, err = run(path)
    assert rc == 0, err
    m = of(events, "result")[-1]["metrics"]
    previous = of(trained[1], "result")[-1]["metrics"]
    # Same seed, same hold-out: the warm start begins where the previous version ended.
    assert abs(m["first_eval_loss"] - previous["eval_loss"]) < 1e-4
    assert of(events, "result")[-1]["details"]["warm_start"] is True


def test_packing_with_plain_text_lines(tmp, base):
    rows = [r for pair in zip(conversations(), texts()) for r in pair]
    spec, path = make_spec(tmp, base, write_jsonl(tmp / "mixed.jsonl", rows), "packed", packing=True, epochs=6, batch_size=2)
    rc, events, err = run(path)
    assert rc == 0, err
    result = of(events, "result")[-1]
    assert result["details"]["sequences_train"] < result["details"]["examples_train"]
    assert result["metrics"]["eval_loss"] < result["metrics"]["first_eval_loss"] - 1.0, result
    assert os.path.isfile(os.path.join(spec["output_dir"], "adapter_model.safetensors"))


def test_unknown_target_module(tmp, base, chat_data):
    spec, path = make_spec(tmp, base, chat_data, "badtarget", target_modules=["no_such_proj"])
    rc, events, err = run(path)
    assert rc == 1
    errors = [e["message"] for e in of(events, "log") if e["level"] == "error"]
    assert errors and "TARGET_MODULES_NOT_FOUND" in errors[-1] and "q_proj" in errors[-1]
    assert not of(events, "result")


def test_sigterm_checkpoint_and_resume(tmp, base, chat_data, trained):
    # The same job as `trained`, stopped after a few steps (before its first periodic checkpoint).
    spec, path = make_spec(tmp, base, chat_data, "sigterm")
    events = []
    with open(tmp / "sigterm.err", "w") as err:
        p = subprocess.Popen(cmd(path), env=ENV, stdout=subprocess.PIPE, stderr=err, text=True)
        # A hung trainer fails the test instead of hanging it.
        guard = threading.Timer(90, p.kill)
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

    rc, resumed, err = run(path)
    assert rc == 0, err
    assert any(f"resumed from step {n}" in e["message"] for e in of(resumed, "log"))
    steps = [e["step"] for e in of(resumed, "progress")]
    assert steps[0] == n + 1 and steps[-1] == of(events, "progress")[0]["total_steps"]
    # Adapter, optimizer, scheduler, RNG and data order all restored: the same result as never stopping.
    uninterrupted = of(trained[1], "result")[-1]["metrics"]
    result = of(resumed, "result")[-1]["metrics"]
    for k in ("first_eval_loss", "eval_loss", "train_loss"):
        assert result[k] == pytest.approx(uninterrupted[k], rel=1e-4), k
    assert os.path.isfile(os.path.join(spec["output_dir"], "adapter_model.safetensors"))
