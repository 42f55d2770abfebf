"""models.download over a link that drops mid-body: the SDK's error, and no partial file left."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import httpx
import pytest

from trainyard import Client, TrainyardError

from conftest import MODEL
from proxy import CuttingProxy, target_of


def test_a_cut_download_raises_and_leaves_nothing(
    url: str, api_key: str, client: Client, trained: Dict[str, Any], tmp_path: Path
) -> None:
    info = client.call("models.artifact", {"name": MODEL, "v": 1, "artifact": "model"})
    whole = httpx.get(str(info["url"]))
    assert whole.status_code == 200 and len(whole.content) == info["bytes"]
    # Cut inside the body: the status line and headers as sent, then half the bytes.
    head = len(b"HTTP/1.1 200 OK\r\n") + sum(len(k) + len(v) + 4 for k, v in whole.headers.raw) + 2
    proxy = CuttingProxy(target_of(url), cut_after=head + info["bytes"] // 2, marker=b"get /blobs/")
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", api_key) as via_proxy:
            with pytest.raises(TrainyardError) as err:
                via_proxy.models.download(MODEL, 1, "model", tmp_path / "model.json")
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    assert err.value.code == "DOWNLOAD_INTERRUPTED"
    assert list(tmp_path.iterdir()) == []
