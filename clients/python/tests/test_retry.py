"""A 429 with Retry-After is waited out and retried: a real HTTP server answers 429 once."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator, List

import httpx
import pytest

from trainyard import Client, TrainyardError


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
