"""Every endpoint needs authentication; cookie-authenticated writes also need the XSRF token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jupyter_dlbench_server.routes import handlers

# one concrete request per route and verb (ids need not exist: auth comes first)
REQUESTS = [
    ("GET", "/dlbench/api/health"),
    ("GET", "/dlbench/api/runs"),
    ("GET", "/dlbench/api/runs/some-run"),
    ("GET", "/dlbench/api/runs/some-run/metrics"),
    ("GET", "/dlbench/api/runs/some-run/report"),
    ("POST", "/dlbench/api/runs/some-run/rerun"),
    ("GET", "/dlbench/api/runs/some-run/artifacts/model.pt"),
    ("GET", "/dlbench/api/jobs"),
    ("POST", "/dlbench/api/jobs"),
    ("POST", "/dlbench/api/jobs/sweep-preview"),
    ("GET", "/dlbench/api/jobs/job-1"),
    ("DELETE", "/dlbench/api/jobs/job-1"),
    ("GET", "/dlbench/api/jobs/job-1/logs"),
    ("GET", "/dlbench/api/datasets"),
    ("GET", "/dlbench/api/datasets/digits/versions"),
    ("GET", "/dlbench/api/datasets/digits/versions/v1"),
    ("GET", "/dlbench/api/notebook-parameters"),
    ("GET", "/dlbench/api/events"),
]
WRITES = [(m, p) for m, p in REQUESTS if m != "GET"]


def test_the_table_covers_every_route_and_verb() -> None:
    covered = set()
    for method, path in REQUESTS:
        for pattern, _handler in handlers():
            if re.fullmatch(pattern, path):
                covered.add((pattern, method))
                break
    every = {(pattern, m.upper()) for pattern, handler in handlers()
             for m in ("get", "post", "delete", "put", "patch") if m in vars(handler)}
    assert covered == every


@pytest.mark.parametrize(("method", "path"), REQUESTS)
async def test_without_a_token_every_endpoint_is_403(api: Any, method: str, path: str) -> None:
    status, body = await api.call(method, path, headers={"Authorization": ""},
                                  body={"notebook": "x.ipynb"} if method == "POST" else None)
    assert status == 403
    assert body["code"] == "forbidden"


async def login_cookie(api: Any) -> str:
    """The login cookie the server sets when a token-authenticated request arrives."""
    response = await api.fetch("GET", "/dlbench/api/health")
    cookies = response.headers.get_list("Set-Cookie")
    login = [c.split(";")[0] for c in cookies if c.startswith("username-")]
    assert login, cookies
    return login[0]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_cookie_authenticated_write_without_xsrf_is_403(
    api: Any, method: str, path: str, workspace_dir: Any
) -> None:
    cookie = await login_cookie(api)
    status, _ = await api.call("GET", "/dlbench/api/jobs",
                               headers={"Authorization": "", "Cookie": cookie})
    assert status == 200  # the cookie alone logs in
    status, body = await api.call(method, path, headers={"Authorization": "", "Cookie": cookie},
                                  body={"notebook": "x.ipynb"} if method == "POST" else None)
    assert status == 403 and body["code"] == "forbidden" and "_xsrf" in body["message"]


async def test_with_the_xsrf_token_a_cookie_write_gets_through(
    api: Any, workspace_dir: Any
) -> None:
    cookie = await login_cookie(api)
    headers = {"Authorization": "", "Cookie": f"{cookie}; _xsrf=00ff00ff",
               "X-XSRFToken": "00ff00ff"}
    status, body = await api.call("POST", "/dlbench/api/jobs", headers=headers,
                                  body={"notebook": "missing.ipynb"})
    assert status == 404 and body["code"] == "notebook_not_found"  # past auth and XSRF
