"""Datasets: create from files, upload-and-create in one call, and wait for validation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

from ._files import Source
from .errors import TrainyardError

if TYPE_CHECKING:
    from .client import JSON, Client


class Datasets:
    def __init__(self, client: "Client") -> None:
        self._c = client

    def create(
        self,
        name: str,
        kind: str,
        file_ids: List[str],
        *,
        options: Optional[Dict[str, Any]] = None,
        description: Optional[str] = None,
    ) -> "JSON":
        body: Dict[str, Any] = {"name": name, "kind": kind, "file_ids": file_ids}
        if options is not None:
            body["options"] = options
        if description is not None:
            body["description"] = description
        return self._c.call("datasets.create", json=body)

    def upload(
        self,
        source: Source,
        *,
        kind: str,
        name: Optional[str] = None,
        filename: Optional[str] = None,
        options: Optional[Dict[str, Any]] = None,
        description: Optional[str] = None,
        wait: bool = True,
        timeout: float = 300.0,
    ) -> "JSON":
        """Uploads one file and makes a dataset of it; by default waits until it is validated."""
        f = self._c.files.upload(source, filename)
        if name is None:
            name = Path(filename or (str(f.get("filename")) if f.get("filename") else "dataset")).stem
        ds = self.create(name, kind, [str(f["id"])], options=options, description=description)
        return self.wait(str(ds["id"]), timeout=timeout) if wait else ds

    def wait(self, dataset_id: str, *, timeout: float = 300.0, poll: float = 0.25) -> "JSON":
        """Polls until validation ends: the ready dataset, or TrainyardError DATASET_INVALID."""
        deadline = time.monotonic() + timeout
        while True:
            ds = self.get(dataset_id)
            if ds["status"] == "ready":
                return ds
            if ds["status"] == "error":
                errors = ds.get("errors") or []
                first = errors[0].get("message", "invalid") if errors else "invalid"
                raise TrainyardError(0, "DATASET_INVALID", f"dataset {dataset_id} failed validation: {first}", errors)
            if time.monotonic() > deadline:
                raise TimeoutError(f"dataset {dataset_id} still {ds['status']} after {timeout} s")
            time.sleep(poll)

    def get(self, dataset_id: str) -> "JSON":
        return self._c.call("datasets.get", {"id": dataset_id})

    def list(self, *, kind: Optional[str] = None, status: Optional[str] = None, page_size: int = 50) -> Iterator["JSON"]:
        """Every dataset, newest first, fetched a page at a time."""
        return self._c.paginate("datasets.list", query={"kind": kind, "status": status, "limit": page_size})

    def delete(self, dataset_id: str) -> None:
        self._c.request("datasets.delete", {"id": dataset_id})
