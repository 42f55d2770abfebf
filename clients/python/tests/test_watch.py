"""jobs.watch: a tqdm bar that follows a live job to 100%."""

from __future__ import annotations

import io
from typing import Any, Dict

from trainyard import Client

from conftest import RUN


def test_watch_shows_the_bar_to_100_percent(client: Client, dataset: Dict[str, Any]) -> None:
    job = client.jobs.create("linear-classifier", dataset["id"], model_name=f"sdk-watched-{RUN}", hyperparameters={"epochs": 10})
    out = io.StringIO()
    final = client.jobs.watch(job["id"], file=out, mininterval=0)
    assert final["status"] == "succeeded"
    text = out.getvalue()
    assert "100%" in text and f"job {job['id']} succeeded" in text
    assert "loss=" in text  # the latest metrics ride along in the postfix
