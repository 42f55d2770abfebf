"""Fixtures for the SDK's tests against a live Trainyard server (TRAINYARD_URL, TRAINYARD_API_KEY).

test/clients/python-sdk.test.ts starts the server with a worker, signs a user up, makes an API
key and runs these; the training job and dataset are made once per session and shared.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any, Dict, Iterator, List

import pytest

from trainyard import Client, Event

#: Names are unique per session, so the suite also passes again against a server it ran on before.
RUN = uuid.uuid4().hex[:8]
MODEL = f"sdk-colours-{RUN}"


def signal_csv(rows: int = 300, seed: int = 7) -> str:
    """A CSV with a learnable signal: the label is the largest of three features."""
    rnd = random.Random(seed)
    lines = ["f1,f2,f3,label"]
    for _ in range(rows):
        x = [rnd.uniform(-1, 1) for _ in range(3)]
        lines.append(",".join(f"{v:.4f}" for v in x) + "," + ["red", "green", "blue"][x.index(max(x))])
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def url() -> str:
    value = os.environ.get("TRAINYARD_URL")
    if not value or not os.environ.get("TRAINYARD_API_KEY"):
        pytest.skip("TRAINYARD_URL and TRAINYARD_API_KEY name the live server these tests need")
    return value


@pytest.fixture(scope="session")
def api_key(url: str) -> str:
    return os.environ["TRAINYARD_API_KEY"]


@pytest.fixture(scope="session")
def client(url: str, api_key: str) -> Iterator[Client]:
    with Client(url, api_key) as c:
        yield c


@pytest.fixture(scope="session")
def dataset(client: Client, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    path = tmp_path_factory.mktemp("data") / f"colours-{RUN}.csv"
    path.write_text(signal_csv())
    return client.datasets.upload(path, kind="tabular-csv", options={"label_column": "label"})


@pytest.fixture(scope="session")
def trained(client: Client, dataset: Dict[str, Any]) -> Dict[str, Any]:
    """A linear-classifier job followed to its end through jobs.stream: the job and its events."""
    job = client.jobs.create(
        "linear-classifier", dataset["id"], model_name=MODEL, hyperparameters={"epochs": 15, "seed": 3}
    )
    events: List[Event] = list(client.jobs.stream(job["id"]))
    return {"job": client.jobs.get(job["id"]), "events": events}
