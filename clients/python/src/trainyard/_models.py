"""Models: the registry (versions, artifacts) and predictions."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Union

import httpx

from .errors import TrainyardError

if TYPE_CHECKING:
    from .client import JSON, Client

Version = Union[int, str]


class Models:
    def __init__(self, client: "Client") -> None:
        self._c = client

    def list(self, *, visibility: Optional[str] = None, page_size: int = 50) -> Iterator["JSON"]:
        """Your models (or every public one with ``visibility="public"``), page by page."""
        page = 1
        while True:
            body = self._c.call("models.list", query={"visibility": visibility, "page": page, "limit": page_size})
            yield from body["data"]
            if not body.get("has_more"):
                return
            page += 1

    def get(self, name: str) -> "JSON":
        return self._c.call("models.get", {"name": name})

    def versions(self, name: str) -> List["JSON"]:
        """Every version, newest first, with metrics and artifacts."""
        data: List["JSON"] = self._c.call("models.versions", {"name": name})["data"]
        return data

    def version(self, name: str, version: Version = "latest") -> "JSON":
        """One version by number or alias (``latest``, ``best`` or your own)."""
        return self._c.call("models.version", {"name": name, "v": version})

    def predict(
        self, name: str, instances: List[Any], *, version: Optional[int] = None, alias: Optional[str] = None
    ) -> "JSON":
        """``{model, version, predictions: [{label, probabilities, ...}]}``; default: the latest version."""
        body: Dict[str, Any] = {"instances": instances}
        if version is not None:
            body["version"] = version
        if alias is not None:
            body["alias"] = alias
        return self._c.call("models.predict", {"name": name}, json=body)

    def download(
        self,
        model: str,
        version: Version = "latest",
        artifact: str = "model",
        path: Union[str, "os.PathLike[str]", None] = None,
    ) -> Path:
        """Downloads an artifact to ``path`` (a file, or a folder to put it in; default: here).

        The bytes are checked against the registry's size and sha256 before the file appears
        under its name, so a cut or altered download never passes for the model.
        """
        info = self._c.call("models.artifact", {"name": model, "v": version, "artifact": artifact})
        target = Path(path) if path is not None else Path.cwd()
        if target.is_dir():
            target = target / str(info["name"])
        partial = target.with_name(target.name + ".part")
        h = hashlib.sha256()
        size = 0
        try:
            with self._c._plain.stream("GET", self._c.absolute(str(info["url"]))) as res:
                if res.status_code >= 400:
                    res.read()
                    raise TrainyardError.from_response(res)
                with partial.open("wb") as f:
                    for chunk in res.iter_bytes():
                        h.update(chunk)
                        size += len(chunk)
                        f.write(chunk)
        except httpx.HTTPError as err:
            # A cut transfer leaves nothing behind, and is the SDK's error like any other.
            partial.unlink(missing_ok=True)
            raise TrainyardError(
                0,
                "DOWNLOAD_INTERRUPTED",
                f"{model} {version} {artifact}: the download stopped after {size} of {info['bytes']} bytes ({err})",
            ) from err
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if size != info["bytes"] or h.hexdigest() != info["sha256"]:
            partial.unlink()
            raise TrainyardError(
                0,
                "ARTIFACT_CHECKSUM_MISMATCH",
                f"{model} {version} {artifact}: got {size} bytes (sha256 {h.hexdigest()}), "
                f"expected {info['bytes']} ({info['sha256']})",
            )
        os.replace(partial, target)
        return target
