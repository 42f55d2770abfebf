"""Every API route the SDK calls, in one table.

The drift test (tests/test_openapi_drift.py) checks each entry against the server's own
/openapi.json: the method and path must exist there, and the JSON body fields the SDK may send
must be properties of the request schema, covering every field it requires. A renamed route or
field then fails the SDK's tests instead of its users.
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Tuple


class Route(NamedTuple):
    method: str
    #: The OpenAPI path template: parameters in braces, as /openapi.json spells them.
    path: str
    #: The JSON body fields the SDK may send (empty: no JSON body).
    body: Tuple[str, ...] = ()


ROUTES: Dict[str, Route] = {
    "me": Route("GET", "/v1/me"),
    # Multipart (field "file"), so no JSON body to check.
    "files.upload": Route("POST", "/v1/files"),
    "files.get": Route("GET", "/v1/files/{id}"),
    "uploads.create": Route("POST", "/v1/uploads", ("filename", "bytes", "sha256")),
    "uploads.complete": Route("POST", "/v1/uploads/{id}/complete", ("sha256",)),
    "datasets.create": Route("POST", "/v1/datasets", ("name", "kind", "file_ids", "description", "options")),
    "datasets.list": Route("GET", "/v1/datasets"),
    "datasets.get": Route("GET", "/v1/datasets/{id}"),
    "datasets.delete": Route("DELETE", "/v1/datasets/{id}"),
    "trainers.list": Route("GET", "/v1/trainers"),
    "trainers.get": Route("GET", "/v1/trainers/{id}"),
    "jobs.create": Route(
        "POST",
        "/v1/jobs",
        (
            "trainer",
            "dataset_id",
            "output",
            "hyperparameters",
            "base_model",
            "validation_dataset_id",
            "test_dataset_id",
            "from_model",
            "metadata",
            "webhook_url",
            "priority",
        ),
    ),
    "jobs.list": Route("GET", "/v1/jobs"),
    "jobs.get": Route("GET", "/v1/jobs/{id}"),
    "jobs.cancel": Route("POST", "/v1/jobs/{id}/cancel"),
    "jobs.events": Route("GET", "/v1/jobs/{id}/events"),
    "jobs.logs": Route("GET", "/v1/jobs/{id}/logs"),
    "jobs.metrics": Route("GET", "/v1/jobs/{id}/metrics"),
    "models.list": Route("GET", "/v1/models"),
    "models.get": Route("GET", "/v1/models/{name}"),
    "models.versions": Route("GET", "/v1/models/{name}/versions"),
    "models.version": Route("GET", "/v1/models/{name}/versions/{v}"),
    "models.predict": Route("POST", "/v1/models/{name}/predict", ("instances", "version", "alias")),
    "models.artifact": Route("GET", "/v1/models/{name}/versions/{v}/artifacts/{artifact}"),
    "credits.balance": Route("GET", "/v1/credits/balance"),
    "credits.transactions": Route("GET", "/v1/credits/transactions"),
}
