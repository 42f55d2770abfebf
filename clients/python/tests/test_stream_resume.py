"""jobs.stream resumes after a dropped connection: a real TCP proxy cuts the stream mid-way."""

from __future__ import annotations

import socket
import threading
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import httpx

from trainyard import Client


class CuttingProxy:
    """Forwards TCP connections to the server; the first event-stream answer is cut after
    ``cut_after`` bytes (both sockets closed, as a dropped network link looks to the client)."""

    def __init__(self, target: Tuple[str, int], cut_after: int) -> None:
        self.target = target
        self.cut_after = cut_after
        self.cut = threading.Event()
        self.stream_requests: List[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(down,), daemon=True).start()

    def _serve(self, down: socket.socket) -> None:
        up = socket.create_connection(self.target)
        state: Dict[str, Any] = {"count": None}  # bytes of the answer to cut, once counting

        def close_both() -> None:
            for s in (down, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

        def client_to_server() -> None:
            while True:
                try:
                    data = down.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if b"text/event-stream" in data.lower():
                    self.stream_requests.append(data)
                    if not self.cut.is_set():
                        state["count"] = 0  # set before the request goes on, so before its answer
                try:
                    up.sendall(data)
                except OSError:
                    return

        threading.Thread(target=client_to_server, daemon=True).start()
        while True:
            try:
                data = up.recv(65536)
            except OSError:
                break
            if not data:
                break
            count: Optional[int] = state["count"]
            if count is not None and not self.cut.is_set() and count + len(data) >= self.cut_after:
                down.sendall(data[: self.cut_after - count])
                self.cut.set()
                break
            if count is not None:
                state["count"] = count + len(data)
            try:
                down.sendall(data)
            except OSError:
                break
        close_both()

    def close(self) -> None:
        self._listener.close()


def _target(url: str) -> Tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def test_stream_resumes_after_a_dropped_connection(url: str, api_key: str, client: Client, trained: Dict[str, Any]) -> None:
    job_id = trained["job"]["id"]
    # The full read: every event as the plain JSON list has it, no stream involved.
    full = [(e.id, e.type, e.data) for e in client.jobs.events(job_id, page_size=7)]
    assert full == [(e.id, e.type, e.data) for e in trained["events"]]
    raw = httpx.get(
        f"{url}/v1/jobs/{job_id}/events", headers={"authorization": f"Bearer {api_key}", "accept": "text/event-stream"}
    ).content
    proxy = CuttingProxy(_target(url), cut_after=len(raw) // 2)
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", api_key) as via_proxy:
            resumed = [(e.id, e.type, e.data) for e in via_proxy.jobs.stream(job_id)]
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    # Nothing lost, nothing twice, same order: exactly what one uninterrupted read gave.
    assert resumed == full
    assert len(proxy.stream_requests) >= 2
    second = proxy.stream_requests[1].decode("latin-1").lower()
    resumed_from = int(second.split("last-event-id:")[1].split("\r\n")[0])
    seqs = [s for s, _, _ in full]
    assert seqs[0] is not None and seqs[-1] is not None and seqs[0] <= resumed_from < seqs[-1]


def test_stream_follows_paged_replays(url: str, api_key: str, client: Client, trained: Dict[str, Any]) -> None:
    """A server that replays at most EVENTS_REPLAY_MAX past events per connection ends each page
    with `event: more`; the iterator reconnects from there (the vitest wrapper sets it to 10)."""
    job_id = trained["job"]["id"]
    full = [(e.id, e.type, e.data) for e in client.jobs.events(job_id)]
    proxy = CuttingProxy(_target(url), cut_after=1 << 40)  # counts requests, never cuts
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", api_key) as via_proxy:
            streamed = [(e.id, e.type, e.data) for e in via_proxy.jobs.stream(job_id)]
    finally:
        proxy.close()
    assert streamed == full
    first_page = httpx.get(
        f"{url}/v1/jobs/{job_id}/events", headers={"authorization": f"Bearer {api_key}", "accept": "text/event-stream"}
    ).text
    if "event: more" in first_page:
        assert len(proxy.stream_requests) >= 2
