"""The README's example, run as written, as a user who just signed up.

Its Python blocks come from clients/python/README.md and, where it has one, the "From Python"
section of the repository's README.md, so neither can rot.
"""

from __future__ import annotations

import contextlib
import io
import re
import uuid
from pathlib import Path
from typing import List

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


def examples() -> List[str]:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "clients/python/README.md").read_text(), re.S)[:1]
    main = (ROOT / "README.md").read_text()
    section = re.search(r"\n#+ From Python\n(.*?)(?=\n#+ |\Z)", main, re.S)
    if section:
        blocks += re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    return blocks


def fresh_api_key(url: str) -> str:
    name = f"readme-{uuid.uuid4().hex[:8]}"
    password = "the readme example must run"
    signup = httpx.post(f"{url}/v1/auth/signup", json={"username": name, "email": f"{name}@example.com", "password": password})
    assert signup.status_code == 201, signup.text
    token = httpx.post(f"{url}/v1/auth/login", json={"username": name, "password": password}).json()["access_token"]
    key = httpx.post(f"{url}/v1/api-keys", json={"name": "readme"}, headers={"authorization": f"Bearer {token}"})
    secret: str = key.json()["secret"]
    return secret


@pytest.mark.parametrize("code", examples())
def test_readme_example_runs(url: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINYARD_URL", url)
    monkeypatch.setenv("TRAINYARD_API_KEY", fresh_api_key(url))
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        exec(compile(code, "README example", "exec"), {"__name__": "readme"})
    lines = out.getvalue().splitlines()
    assert lines[-5].startswith("succeeded ")
    assert lines[-4:-2] == ["2", "rest"]
    assert lines[-1] == "404 JOB_NOT_FOUND"
    assert "100%" in err.getvalue()  # the watch() bar, on stderr
    assert (tmp_path / "model.json").stat().st_size > 0
