"""Cross-origin and DNS-rebinding requests to the REST API are refused by Jupyter Server's own
checks, before any dlbench handler runs, and nothing is written (issue 9: a foreign Origin, a
foreign Host, JSON sent as text/plain or form data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.test_api_auth import REQUESTS, WRITES

pytestmark = pytest.mark.usefixtures("workspace_dir")


def _jobs(workspace_dir: Path) -> list[Path]:
    return list((workspace_dir / "jobs").glob("job-*")) if (workspace_dir / "jobs").exists() else []


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_cross_site_write_needs_a_preflight_that_only_a_token_holder_can_use(
        api: Any, workspace_dir: Path, make_notebook: Any, method: str, path: str) -> None:
    """A page on another site can send JSON or a token header only after a CORS preflight.
    Without an Authorization header the preflight is not granted; with one it is (Jupyter
    Server's rule), but the write itself then needs a valid token, which that site lacks.
    (Cookie-carrying writes without the XSRF token: tests/server/test_api_auth.py.)"""
    make_notebook("nb.ipynb", "x = 1", "y = x")
    evil = {"Origin": "http://evil.example", "Access-Control-Request-Method": method}
    # a browser's preflight carries no credentials (the test client would add its token)
    response = await api._http.fetch(f"{api._base_url.rstrip('/')}{path}", method="OPTIONS",
                                     raise_error=False,
                                     headers={**evil, "Access-Control-Request-Headers": "content-type"})
    assert response.headers.get("Access-Control-Allow-Origin") in (None, ""), "a JSON write was let through"
    response = await api.fetch(method, path, body=None if method == "DELETE" else {"notebook": "nb.ipynb"},
                               raw=True, headers={
        "Origin": "http://evil.example", "Authorization": "token not-the-token"})
    # Jupyter Server answers a foreign Origin without valid credentials with 404, a bad token 403
    assert response.code in (403, 404), (response.code, response.body[:300])
    assert _jobs(workspace_dir) == []


@pytest.mark.parametrize(("method", "path"), [r for r in REQUESTS if r[0] == "GET" and "events" not in r[1]])
async def test_a_read_for_a_foreign_host_is_refused(api: Any, method: str, path: str) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    response = await api.fetch(method, path, headers={"Host": "evil.example:8888"})
    assert response.code == 403, (response.code, response.body[:300])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_job_body_that_is_not_declared_json_is_refused(
        api: Any, workspace_dir: Path, make_notebook: Any, content_type: str) -> None:
    """A cross-site form can send text/plain or form data without a preflight; the API only
    acts on bodies declared as JSON."""
    make_notebook("nb.ipynb", "x = 1", "y = x")
    response = await api.fetch("POST", "/dlbench/api/jobs", body='{"notebook": "nb.ipynb"}',
                               headers={"Content-Type": content_type})
    assert response.code in (400, 403, 415), (response.code, response.body[:300])
    assert _jobs(workspace_dir) == []
