"""Retries: a 429 waited out as Retry-After says (a real HTTP server answers 429 first), and a
create whose answer was lost retried safely with its Idempotency-Key (a real cutting proxy)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List

import httpx
import pytest

from trainyard import Client, TrainyardError

from conftest import RUN
from proxy import CuttingProxy, target_of


class LimitedServer:
    """Answers the first ``limited`` requests 429 (Retry-After: ``retry_after``), then forwards
    each request to the real server and relays its answer."""

    def __init__(self, upstream: str, limited: int, retry_after: str) -> None:
        self.hits: List[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(time.monotonic())
                if len(outer.hits) <= limited:
                    body = json.dumps({"error": {"code": "RATE_LIMITED", "message": "slow down"}}).encode()
                    self.send_response(429)
                    self.send_header("retry-after", retry_after)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                res = httpx.get(upstream + self.path, headers={"authorization": self.headers["authorization"]})
                self.send_response(res.status_code)
                self.send_header("content-type", res.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(res.content)))
                self.end_headers()
                self.wfile.write(res.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


MakeServer = Callable[[int, str], LimitedServer]


@pytest.fixture
def limited(url: str) -> Iterator[MakeServer]:
    """Makes LimitedServers in front of the live server; closes them after the test."""
    servers: List[LimitedServer] = []

    def make(n: int, retry_after: str) -> LimitedServer:
        servers.append(LimitedServer(url, n, retry_after))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_429_is_retried_after_retry_after(limited: MakeServer, client: Client, api_key: str) -> None:
    server = limited(1, "1")
    with Client(server.url, api_key) as c:
        me = c.me()
    assert me["id"] == client.me()["id"]
    assert len(server.hits) == 2
    assert server.hits[1] - server.hits[0] >= 0.95  # it waited what Retry-After said


def test_429_beyond_max_retries_raises(limited: MakeServer, api_key: str) -> None:
    server = limited(100, "0")
    with Client(server.url, api_key, max_retries=2) as c, pytest.raises(TrainyardError) as info:
        c.me()
    assert (info.value.status, info.value.code) == (429, "RATE_LIMITED")
    assert len(server.hits) == 3  # the first try and two retries


def test_a_create_whose_answer_is_lost_is_retried_once_with_its_idempotency_key(
    url: str, api_key: str, client: Client, dataset: Dict[str, Any]
) -> None:
    """The proxy forwards POST /v1/jobs, then drops the connection before any answer comes
    back: the job exists, the client does not know it. The retry carries the same
    Idempotency-Key, so the server answers with that job instead of starting a second one."""
    proxy = CuttingProxy(target_of(url), cut_after=0, marker=b"POST /v1/jobs ")
    name = f"sdk-lost-answer-{RUN}"
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", api_key) as c:
            job = c.jobs.create("linear-classifier", dataset["id"], model_name=name, hyperparameters={"epochs": 2})
    finally:
        proxy.close()
    assert proxy.cut.is_set() and len(proxy.requests) == 2
    keys = {r.decode("latin-1").lower().split("idempotency-key:")[1].split("\r\n")[0].strip() for r in proxy.requests}
    assert len(keys) == 1  # both tries sent the same key
    assert [j["id"] for j in client.jobs.list(model_name=name)] == [job["id"]]
