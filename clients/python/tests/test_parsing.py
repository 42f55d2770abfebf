"""No server needed: the SSE parser (frames, comments, a frame cut before its end) and Retry-After."""

from __future__ import annotations

import email.utils
import json
from datetime import datetime, timedelta, timezone

import httpx

from trainyard._sse import parse_sse
from trainyard.client import retry_after_seconds


def frame(seq: int, kind: str, data: object) -> list[str]:
    payload = {"seq": seq, "type": kind, "data": data, "created_at": "2026-01-01T00:00:00Z"}
    return [f"id: {seq}", f"event: {kind}", f"data: {json.dumps(payload)}", ""]


def test_frames_comments_and_a_cut_frame() -> None:
    lines = [": connected", ""] + frame(1, "status", {"status": "running"}) + [": keep-alive", ""]
    lines += frame(2, "metrics", {"step": 1, "values": {"loss": 0.5}})
    lines += ["retry: 1000", "event: more", 'data: {"type":"more","last_event_id":2}', ""]
    lines += ["id: 3", "event: progress"]  # cut before its data and blank line
    events = list(parse_sse(lines))
    assert [(e.id, e.type) for e in events] == [(1, "status"), (2, "metrics"), (None, "more")]
    assert events[1].data == {"step": 1, "values": {"loss": 0.5}}
    assert events[2].data["last_event_id"] == 2


def test_retry_after_in_seconds_or_as_a_date() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": value})

    assert retry_after_seconds(answer("3")) == 3.0
    soon = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    wait = retry_after_seconds(answer(soon))
    assert wait is not None and 25 <= wait <= 31
    assert retry_after_seconds(answer("whenever")) is None
    assert retry_after_seconds(httpx.Response(429)) is None
