"""Jobs: create, list, cancel, logs, the resumable event stream and a progress bar."""

from __future__ import annotations

import uuid
from typing import IO, TYPE_CHECKING, Any, Dict, Iterator, List, Optional

import httpx

from ._sse import Event, parse_sse
from .errors import TrainyardError

if TYPE_CHECKING:
    from .client import JSON, Client

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
#: The server sends a keep-alive comment every 15 s: a read this long without one is a dead link.
STREAM_READ_TIMEOUT = 60.0
#: Percent of the trainer's steps, time spent and left, then the latest metrics.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}"


def is_final(event: Event) -> bool:
    return event.type == "status" and event.data.get("status") in FINAL_STATES


class Jobs:
    def __init__(self, client: "Client") -> None:
        self._c = client

    def create(
        self,
        trainer: str,
        dataset_id: str,
        *,
        model_name: Optional[str] = None,
        output: Optional[Dict[str, Any]] = None,
        hyperparameters: Optional[Dict[str, Any]] = None,
        base_model: Optional[str] = None,
        validation_dataset_id: Optional[str] = None,
        test_dataset_id: Optional[str] = None,
        from_model: Optional[Dict[str, Any]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        webhook_url: Optional[str] = None,
        priority: Optional[int] = None,
        idempotency_key: Optional[str] = None,
    ) -> "JSON":
        """Starts a training job (``model_name`` is shorthand for ``output={"model_name": …}``).

        Every call sends an Idempotency-Key (a fresh UUID unless given), so the client's own
        retries after a lost answer never start the job twice.
        """
        out = dict(output or {})
        if model_name is not None:
            out["model_name"] = model_name
        if "model_name" not in out:
            raise ValueError("a job needs model_name (or output={'model_name': ...})")
        body: Dict[str, Any] = {"trainer": trainer, "dataset_id": dataset_id, "output": out}
        optional = {
            "hyperparameters": hyperparameters,
            "base_model": base_model,
            "validation_dataset_id": validation_dataset_id,
            "test_dataset_id": test_dataset_id,
            "from_model": from_model,
            "metadata": metadata,
            "webhook_url": webhook_url,
            "priority": priority,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        key = idempotency_key or str(uuid.uuid4())
        return self._c.call("jobs.create", json=body, headers={"idempotency-key": key})

    def get(self, job_id: str) -> "JSON":
        return self._c.call("jobs.get", {"id": job_id})

    def list(
        self,
        *,
        status: Optional[str] = None,
        trainer: Optional[str] = None,
        model_name: Optional[str] = None,
        page_size: int = 50,
    ) -> Iterator["JSON"]:
        """Every job, newest first, fetched a page at a time."""
        q = {"status": status, "trainer": trainer, "model_name": model_name, "limit": page_size}
        return self._c.paginate("jobs.list", query=q)

    def cancel(self, job_id: str) -> "JSON":
        """A queued job is cancelled at once; a running one goes through ``cancel_requested``."""
        return self._c.call("jobs.cancel", {"id": job_id})

    def logs(self, job_id: str, *, tail: int = 200) -> List["JSON"]:
        data: List["JSON"] = self._c.call("jobs.logs", {"id": job_id}, query={"tail": tail})["data"]
        return data

    def metrics(self, job_id: str) -> Dict[str, List["JSON"]]:
        """One series per metric: ``{name: [{step, epoch, value, at}, ...]}``."""
        series: Dict[str, List["JSON"]] = self._c.call("jobs.metrics", {"id": job_id})["metrics"]
        return series

    def events(self, job_id: str, *, after: int = 0, page_size: int = 500) -> Iterator[Event]:
        """The job's events so far (after ``after``), oldest first, as plain JSON pages: no stream."""
        while True:
            page = self._c.call("jobs.events", {"id": job_id}, query={"after": after, "limit": page_size})["data"]
            for e in page:
                yield Event(int(e["seq"]), str(e["type"]), e.get("data") or {}, e.get("created_at"))
            if len(page) < page_size:
                return
            after = int(page[-1]["seq"])

    def stream(self, job_id: str, last_event_id: Optional[int] = None) -> Iterator[Event]:
        """The job's events until its final status, as they happen.

        A dropped connection, a server restart or a paged replay (``event: more``) is resumed
        with Last-Event-ID from the last whole event received, so each event comes once and in
        order. Gives up after ``max_retries`` reconnections in a row that brought nothing new.
        """
        last = last_event_id
        fruitless = 0  # connections in a row that brought nothing new
        while True:
            headers = {"accept": "text/event-stream"}
            if last is not None:
                headers["last-event-id"] = str(last)
            progressed = False
            broken: Optional[httpx.TransportError] = None
            try:
                res = self._c.request(
                    "jobs.events", {"id": job_id}, headers=headers, stream=True, read_timeout=STREAM_READ_TIMEOUT
                )
                try:
                    if res.status_code == 204:
                        return  # a finished job with nothing after the cursor
                    for ev in parse_sse(res.iter_lines()):
                        progressed = True
                        if ev.type == "more":
                            resume = ev.data.get("last_event_id")
                            if isinstance(resume, int):
                                last = resume
                            continue
                        if ev.type == "denied":
                            # Access lost while the stream was open (a revoked key, a disabled
                            # account): reconnecting would only be refused.
                            raw = ev.data.get("error")
                            err: Dict[str, Any] = raw if isinstance(raw, dict) else {}
                            status = ev.data.get("status")
                            raise TrainyardError(
                                status if isinstance(status, int) else 401,
                                str(err.get("code", "STREAM_DENIED")),
                                f"the event stream was ended: {err.get('message', 'access was withdrawn')}",
                            )
                        if ev.id is not None:
                            if last is not None and ev.id <= last:
                                continue  # already delivered (a server that replays from earlier)
                            last = ev.id
                        yield ev
                        if is_final(ev):
                            return
                finally:
                    res.close()
            except httpx.TransportError as err:
                broken = err
            # The stream ended or broke before the final status: resume after the last whole event.
            fruitless = 0 if progressed else fruitless + 1
            if fruitless > self._c.max_retries:
                raise ConnectionError(f"the event stream of job {job_id} keeps ending without news") from broken
            if fruitless:
                self._c._sleep(self._c._delay(fruitless - 1))

    def watch(self, job_id: str, *, file: Optional[IO[str]] = None, leave: bool = True, **tqdm_kwargs: Any) -> "JSON":
        """Follows a job with a tqdm progress bar (a widget in notebooks) and returns the final job.

        The bar counts percent of the trainer's steps; its postfix shows the latest metrics.
        Needs the ``tqdm`` extra: ``pip install 'trainyard[tqdm]'``.
        """
        try:
            from tqdm.auto import tqdm
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("watch() needs tqdm: pip install 'trainyard[tqdm]'") from err
        bar = tqdm(total=100, desc=f"job {job_id}", file=file, leave=leave, bar_format=BAR_FORMAT, **tqdm_kwargs)
        try:
            for ev in self.stream(job_id):
                if ev.type == "progress":
                    step, total = ev.data.get("step"), ev.data.get("total_steps")
                    if isinstance(step, (int, float)) and isinstance(total, (int, float)) and total > 0:
                        bar.update(max(0, min(100, int(100 * step / total)) - bar.n))
                elif ev.type == "metrics":
                    values = ev.data.get("values")
                    if isinstance(values, dict):
                        bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in values.items()})
                elif ev.type == "status":
                    bar.set_description(f"job {job_id} {ev.data.get('status')}")
            job = self.get(job_id)
            if job["status"] == "succeeded":
                bar.update(100 - bar.n)
            return job
        finally:
            bar.close()
