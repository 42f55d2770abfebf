"""A real TCP proxy between the SDK and the server that can cut one answer mid-way."""

from __future__ import annotations

import socket
import threading
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit


def target_of(url: str) -> Tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


class CuttingProxy:
    """Forwards TCP connections to the server. The answer to the first request containing
    ``marker`` (default: an event-stream request) is cut after ``cut_after`` bytes: both sockets
    closed, which is how a dropped network link looks to the client. ``requests`` keeps every
    request chunk that contained the marker."""

    def __init__(self, target: Tuple[str, int], cut_after: int, marker: bytes = b"text/event-stream") -> None:
        self.target = target
        self.cut_after = cut_after
        self.marker = marker.lower()
        self.cut = threading.Event()
        self.requests: List[bytes] = []
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
                if self.marker in data.lower():
                    self.requests.append(data)
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
