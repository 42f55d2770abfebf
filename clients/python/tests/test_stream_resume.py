"""jobs.stream resumes after a dropped connection: a real TCP proxy cuts the stream mid-way."""

from __future__ import annotations

from typing import Any, Dict

import httpx

from trainyard import Client

from proxy import CuttingProxy, target_of


def test_stream_resumes_after_a_dropped_connection(url: str, api_key: str, client: Client, trained: Dict[str, Any]) -> None:
    job_id = trained["job"]["id"]
    # The full read: every event as the plain JSON list has it, no stream involved.
    full = [(e.id, e.type, e.data) for e in client.jobs.events(job_id, page_size=7)]
    assert full == [(e.id, e.type, e.data) for e in trained["events"]]
    raw = httpx.get(
        f"{url}/v1/jobs/{job_id}/events", headers={"authorization": f"Bearer {api_key}", "accept": "text/event-stream"}
    ).content
    proxy = CuttingProxy(target_of(url), cut_after=len(raw) // 2)
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", api_key) as via_proxy:
            resumed = [(e.id, e.type, e.data) for e in via_proxy.jobs.stream(job_id)]
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    # Nothing lost, nothing twice, same order: exactly what one uninterrupted read gave.
    assert resumed == full
    assert len(proxy.requests) >= 2
    second = proxy.requests[1].decode("latin-1").lower()
    resumed_from = int(second.split("last-event-id:")[1].split("\r\n")[0])
    seqs = [s for s, _, _ in full]
    assert seqs[0] is not None and seqs[-1] is not None and seqs[0] <= resumed_from < seqs[-1]


def test_stream_follows_paged_replays(url: str, api_key: str, client: Client, trained: Dict[str, Any]) -> None:
    """A server that replays at most EVENTS_REPLAY_MAX past events per connection ends each page
    with `event: more`; the iterator reconnects from there (the vitest wrapper sets it to 10)."""
    job_id = trained["job"]["id"]
    full = [(e.id, e.type, e.data) for e in client.jobs.events(job_id)]
    proxy = CuttingProxy(target_of(url), cut_after=1 << 40)  # counts requests, never cuts
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
        assert len(proxy.requests) >= 2
