"""The one error type the SDK raises for an answer the API refused."""

from __future__ import annotations

from typing import Any, Optional

import httpx


class TrainyardError(Exception):
    """An API error: the HTTP status and the API's stable ``code`` (e.g. ``DATASET_NOT_FOUND``).

    ``status`` is 0 for failures the SDK itself detects after a successful answer (a dataset
    that failed validation while waiting, a download whose checksum does not match).
    ``request_id`` is the server's ``x-request-id``: the operator finds the request by it.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id

    @classmethod
    def from_response(cls, res: httpx.Response) -> "TrainyardError":
        """Reads the API's error envelope ``{"error": {code, message, details}}``."""
        request_id = res.headers.get("x-request-id")
        try:
            body = res.json()
            err = body["error"]
            return cls(res.status_code, str(err["code"]), str(err["message"]), err.get("details"), request_id)
        except (ValueError, KeyError, TypeError):
            # Not the API's envelope (a proxy's page, an empty body): keep what there is.
            text = res.text[:500] if res.content else res.reason_phrase
            return cls(res.status_code, f"HTTP_{res.status_code}", text, None, request_id)
