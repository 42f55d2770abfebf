"""Files: multipart for small ones, a pre-signed PUT for large ones (as the dashboard does)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from .errors import TrainyardError

if TYPE_CHECKING:
    from .client import JSON, Client

Source = Union[str, "os.PathLike[str]", bytes]

#: Above this a file goes to storage by a pre-signed PUT rather than through the API process.
MULTIPART_MAX_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class Files:
    def __init__(self, client: "Client") -> None:
        self._c = client

    def upload(self, source: Source, filename: Optional[str] = None, *, presigned: Optional[bool] = None) -> "JSON":
        """Uploads a path or bytes; returns the file (``id``, ``bytes``, ``sha256``, ``type``).

        ``presigned`` forces the route: None picks multipart up to 8 MiB and a pre-signed upload
        above, whose size and sha256 the server checks on completion.
        """
        if isinstance(source, bytes):
            name = filename or "upload.bin"
            size = len(source)
        else:
            path = Path(source)
            name = filename or path.name
            size = path.stat().st_size
        if presigned is None:
            presigned = size > MULTIPART_MAX_BYTES
        if not presigned:
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            return self._c.call("files.upload", files={"file": (name, data)})
        return self._presigned(source, name, size)

    def _presigned(self, source: Source, name: str, size: int) -> "JSON":
        if isinstance(source, bytes):
            sha = hashlib.sha256(source).hexdigest()
        else:
            sha = _sha256_of(Path(source))
        ticket = self._c.call("uploads.create", json={"filename": name, "bytes": size, "sha256": sha})
        headers = {"content-length": str(size), "content-type": "application/octet-stream"}
        url = self._c.absolute(str(ticket["upload_url"]))
        method = str(ticket.get("method", "PUT"))
        if isinstance(source, bytes):
            res = self._c._plain.request(method, url, content=source, headers=headers)
        else:
            with Path(source).open("rb") as f:
                res = self._c._plain.request(method, url, content=f, headers=headers)
        if res.status_code >= 400:
            raise TrainyardError.from_response(res)
        return self._c.call("uploads.complete", {"id": str(ticket["file_id"])}, json={"sha256": sha})

    def get(self, file_id: str) -> "JSON":
        return self._c.call("files.get", {"id": file_id})
