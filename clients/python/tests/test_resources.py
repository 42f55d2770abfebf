"""Each resource of the SDK against the live server."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Dict

import pytest

from trainyard import Client, TrainyardError

from conftest import MODEL, RUN, signal_csv


def test_me(client: Client) -> None:
    me = client.me()
    assert me["id"] and me["username"]


def test_files_multipart_and_presigned(client: Client, tmp_path: Path) -> None:
    data = signal_csv(40, seed=11).encode()
    (tmp_path / "from-disk.csv").write_bytes(data)
    small = client.files.upload(data, "small.csv")
    signed = client.files.upload(data, "signed.csv", presigned=True)
    from_disk = client.files.upload(tmp_path / "from-disk.csv", presigned=True)
    sha = hashlib.sha256(data).hexdigest()
    for f in (small, signed, from_disk):
        assert f["bytes"] == len(data) and f["sha256"] == sha
    assert from_disk["filename"] == "from-disk.csv"
    assert client.files.get(signed["id"])["id"] == signed["id"]


def test_datasets_ready_and_listed_page_by_page(client: Client, dataset: Dict[str, Any], tmp_path: Path) -> None:
    assert dataset["status"] == "ready"
    assert dataset["stats"]["row_count"] == 300
    other = client.datasets.upload(
        signal_csv(50, seed=5).encode(), filename=f"second-{RUN}.csv", kind="tabular-csv", options={"label_column": "label"}
    )
    assert other["name"] == f"second-{RUN}" and other["status"] == "ready"
    ids = [d["id"] for d in client.datasets.list(page_size=1)]
    assert len(ids) == len(set(ids)) and {dataset["id"], other["id"]} <= set(ids)
    assert client.datasets.get(dataset["id"])["file_ids"] == dataset["file_ids"]


def test_trainers(client: Client) -> None:
    ids = [t["id"] for t in client.trainers.list()]
    assert "linear-classifier" in ids
    assert client.trainers.get("linear-classifier")["id"] == "linear-classifier"


def test_job_stream_to_the_end(client: Client, trained: Dict[str, Any]) -> None:
    events = trained["events"]
    seqs = [e.id for e in events]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert events[-1].type == "status" and events[-1].data["status"] == "succeeded"
    types = {e.type for e in events}
    assert {"status", "metrics", "progress"} <= types
    assert trained["job"]["status"] == "succeeded"
    assert trained["job"]["progress"]["fraction"] == 1
    assert "loss" in client.jobs.metrics(trained["job"]["id"])
    assert isinstance(client.jobs.logs(trained["job"]["id"]), list)


def test_jobs_idempotent_create_cancel_and_paginated_list(client: Client, dataset: Dict[str, Any], trained: Dict[str, Any]) -> None:
    long = f"sdk-long-{RUN}"
    kw: Dict[str, Any] = {"model_name": long, "hyperparameters": {"epochs": 2000, "batch_size": 1}}
    first = client.jobs.create("linear-classifier", dataset["id"], idempotency_key=long, **kw)
    again = client.jobs.create("linear-classifier", dataset["id"], idempotency_key=long, **kw)
    assert again["id"] == first["id"]
    assert client.jobs.cancel(first["id"])["status"] in ("cancelled", "cancel_requested")
    deadline = time.monotonic() + 60
    while client.jobs.get(first["id"])["status"] != "cancelled":
        assert time.monotonic() < deadline, "the cancelled job never reached cancelled"
        time.sleep(0.2)
    ids = [j["id"] for j in client.jobs.list(page_size=1)]
    assert len(ids) == len(set(ids)) and {first["id"], trained["job"]["id"]} <= set(ids)
    assert [j["id"] for j in client.jobs.list(status="cancelled", model_name=long)] == [first["id"]]


def test_models_versions_predict_download(client: Client, trained: Dict[str, Any], tmp_path: Path) -> None:
    assert MODEL in [m["name"] for m in client.models.list()]
    versions = client.models.versions(MODEL)
    assert [v["version"] for v in versions] == [1]
    latest = client.models.version(MODEL)
    assert latest["version"] == 1
    out = client.models.predict(MODEL, [{"f1": 0.9, "f2": -0.5, "f3": 0.1}, {"f1": -0.5, "f2": -0.4, "f3": 0.8}])
    assert [p["label"] for p in out["predictions"]] == ["red", "blue"]
    artifact = next(a for a in latest["artifacts"] if a["name"] == "model")
    path = client.models.download(MODEL, 1, "model", tmp_path / "model.json")
    data = path.read_bytes()
    assert len(data) == artifact["bytes"] and hashlib.sha256(data).hexdigest() == artifact["sha256"]
    json.loads(data)  # the linear model is a JSON document
    assert client.models.download(MODEL, "latest", "model", tmp_path).name == artifact["name"]


def test_credits(client: Client, trained: Dict[str, Any]) -> None:
    balance = client.credits.balance()
    assert isinstance(balance["balance"], int) and balance["held"] >= 0
    entries = list(client.credits.transactions(job_id=trained["job"]["id"], page_size=1))
    assert {e["type"] for e in entries} >= {"hold", "capture"}


def test_errors_carry_the_api_code(client: Client) -> None:
    with pytest.raises(TrainyardError) as info:
        client.datasets.get("ds_doesnotexist")
    e = info.value
    assert e.status == 404 and e.code == "DATASET_NOT_FOUND" and e.request_id
    with pytest.raises(TrainyardError) as bad:
        client.jobs.create("no-such-trainer", "ds_doesnotexist", model_name="x")
    assert (bad.value.status, bad.value.code) == (400, "UNKNOWN_TRAINER") and "no-such-trainer" in bad.value.message
