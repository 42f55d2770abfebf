"""Server-sent events: the parser and the event type the job stream yields."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, Optional


@dataclass(frozen=True)
class Event:
    """One job event: ``id`` is its sequence number (what Last-Event-ID resumes after)."""

    id: Optional[int]
    type: str
    data: Dict[str, Any] = field(default_factory=dict)
    created_at: Optional[str] = None


@dataclass
class _Frame:
    id: Optional[str] = None
    event: str = "message"
    data: list[str] = field(default_factory=list)


def parse_sse(lines: Iterable[str]) -> Iterator[Event]:
    """Events from the stream's lines (without their line ends), per the SSE format.

    A frame counts only once its blank line arrives: a connection cut mid-frame yields nothing
    of that frame, so the resume point is always the last *whole* event.
    """
    frame = _Frame()
    for line in lines:
        if line == "":
            if frame.data:
                yield _event(frame)
            frame = _Frame()
            continue
        if line.startswith(":"):
            continue  # a comment: the server's keep-alive
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "id":
            frame.id = value
        elif name == "event":
            frame.event = value
        elif name == "data":
            frame.data.append(value)
        # "retry" and unknown fields: nothing to do for a client that reconnects by itself


def _event(frame: _Frame) -> Event:
    raw = "\n".join(frame.data)
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = {"data": raw}
    seq = int(frame.id) if frame.id and frame.id.isdigit() else None
    if frame.event == "more" or not isinstance(payload, dict) or "data" not in payload:
        # `more` (and anything not shaped like a job event) carries its fields at the top level.
        return Event(seq, frame.event, payload if isinstance(payload, dict) else {"value": payload})
    data = payload.get("data")
    return Event(seq, str(payload.get("type", frame.event)), data if isinstance(data, dict) else {}, payload.get("created_at"))
