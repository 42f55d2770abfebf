"""The client: one httpx connection pool, authentication, retries and the API's errors."""

from __future__ import annotations

import email.utils
import os
import random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Union
from urllib.parse import quote

import httpx

from ._routes import ROUTES
from .errors import TrainyardError

__version__ = "0.1.0"

JSON = Dict[str, Any]
QueryValue = Union[str, int, float, bool, None]

#: Answers worth another try: rate limited (429) or briefly unavailable (503).
RETRY_STATUSES = frozenset({429, 503})
#: The longest Retry-After the client honours; a longer one is an outage, not a pause.
MAX_RETRY_AFTER = 60.0


def retry_after_seconds(res: httpx.Response) -> Optional[float]:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    value = res.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class Client:
    """A Trainyard API client.

    ``Client(url, api_key)`` (or ``token=`` for a login JWT; both are sent as a bearer token).
    Without either, ``TRAINYARD_API_KEY`` is read from the environment. 429 and 503 answers are
    retried up to ``max_retries`` times, waiting what Retry-After says (else an exponential
    backoff from ``backoff`` seconds); so are connections that fail before a request is sent,
    and any failure of a GET or of a create that carries an Idempotency-Key.
    """

    def __init__(
        self,
        url: str,
        api_key: Optional[str] = None,
        *,
        token: Optional[str] = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        secret = api_key or token or os.environ.get("TRAINYARD_API_KEY")
        headers = {"user-agent": f"trainyard-python/{__version__}"}
        if secret:
            headers["authorization"] = f"Bearer {secret}"
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        # Signed URLs (uploads, downloads) carry their own authorization: a bearer token sent
        # along would leak to the storage host, and S3 refuses a second authorization anyway.
        self._plain = httpx.Client(timeout=timeout, follow_redirects=True)

        from ._datasets import Datasets
        from ._files import Files
        from ._jobs import Jobs
        from ._models import Models
        from ._simple import Credits, Trainers

        self.files = Files(self)
        self.datasets = Datasets(self)
        self.trainers = Trainers(self)
        self.jobs = Jobs(self)
        self.models = Models(self)
        self.credits = Credits(self)

    def me(self) -> JSON:
        """The caller: id, username, role."""
        return self.call("me")

    # -- transport -------------------------------------------------------------------------

    def request(
        self,
        route: str,
        params: Optional[Mapping[str, Union[str, int]]] = None,
        *,
        json: Any = None,
        query: Optional[Mapping[str, QueryValue]] = None,
        files: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        stream: bool = False,
        read_timeout: Optional[float] = None,
    ) -> httpx.Response:
        """Sends one request of the route table (with retries); raises TrainyardError on 4xx/5xx.

        With ``stream=True`` the answer's body is not read: the caller closes the response.
        """
        r = ROUTES[route]
        path = r.path.format(**{k: quote(str(v), safe="") for k, v in (params or {}).items()})
        q = {k: v for k, v in (query or {}).items() if v is not None}
        timeout = httpx.Timeout(self.timeout, read=read_timeout) if read_timeout else httpx.USE_CLIENT_DEFAULT
        req = self._http.build_request(
            r.method, path, json=json, params=q or None, files=files, headers=headers, timeout=timeout
        )
        return self._send(req, stream=stream)

    def call(self, route: str, params: Optional[Mapping[str, Union[str, int]]] = None, **kw: Any) -> JSON:
        """request() for a JSON answer."""
        res = self.request(route, params, **kw)
        if res.status_code == 204 or not res.content:
            return {}
        body: JSON = res.json()
        return body

    def paginate(
        self, route: str, params: Optional[Mapping[str, str]] = None, query: Optional[Mapping[str, QueryValue]] = None
    ) -> Iterator[JSON]:
        """Every item of a cursor-paged list (``{data, next_cursor}``), fetching pages as needed."""
        cursor: Optional[str] = None
        while True:
            page = self.call(route, params, query={**(query or {}), "cursor": cursor})
            yield from page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def _retryable_failure(self, req: httpx.Request, err: httpx.TransportError) -> bool:
        # A connection that never opened sent nothing; otherwise only what is safe to repeat.
        if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)):
            return True
        return req.method == "GET" or "idempotency-key" in req.headers

    def _delay(self, attempt: int) -> float:
        return float(self.backoff * (2**attempt) * random.uniform(0.8, 1.2))

    def _send(self, req: httpx.Request, *, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            try:
                res = self._http.send(req, stream=stream)
            except httpx.TransportError as err:
                if attempt >= self.max_retries or not self._retryable_failure(req, err):
                    raise
                self._sleep(self._delay(attempt))
                attempt += 1
                continue
            if res.status_code in RETRY_STATUSES and attempt < self.max_retries:
                wait = retry_after_seconds(res)
                res.close()
                self._sleep(min(wait, MAX_RETRY_AFTER) if wait is not None else self._delay(attempt))
                attempt += 1
                continue
            if res.status_code >= 400:
                if stream:
                    res.read()
                    res.close()
                raise TrainyardError.from_response(res)
            return res

    def absolute(self, url: str) -> str:
        """A URL the API gave, made absolute (sample image URLs are relative to the API)."""
        return str(httpx.URL(self.url + "/").join(url))

    def close(self) -> None:
        self._http.close()
        self._plain.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
