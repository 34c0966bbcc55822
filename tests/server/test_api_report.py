"""GET /dlbench/api/runs/{id}/report: the run's report, sandboxed for the UI's iframe."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

RUNS = "/dlbench/api/runs"


async def test_the_html_report_allows_only_its_own_inline_scripts_in_a_sandbox(
    api: Any, make_run: Any
) -> None:
    run_id = make_run(name="<img src=x onerror=alert(1)>", params={"lr": 0.1},
                      history=[{"loss": 1.0 / (s + 1)} for s in range(20)])
    response = await api.fetch("GET", f"{RUNS}/{run_id}/report")
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    html = response.body.decode()
    assert "<img src=x onerror" not in html  # the report escaped the name
    csp = dict(p.strip().split(" ", 1) for p in response.headers["Content-Security-Policy"]
               .split(";"))
    assert csp["default-src"] == "'none'" and csp["sandbox"] == "allow-scripts"
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp["script-src"]
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.DOTALL)
    assert scripts, "the report has its charts' scripts"
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp["script-src"]


async def test_the_markdown_report_and_bad_requests(api: Any, make_run: Any) -> None:
    run_id = make_run(name="mdrun", history=[{"acc": 0.5}])
    response = await api.fetch("GET", f"{RUNS}/{run_id}/report", params={"format": "md"})
    assert response.code == 200 and response.headers["Content-Type"].startswith("text/markdown")
    assert "## Run mdrun" in response.body.decode()
    status, body = await api.get(f"{RUNS}/{run_id}/report", params={"format": "pdf"})
    assert status == 400 and body["field"] == "format"
    status, body = await api.get(f"{RUNS}/no-such-run/report")
    assert status == 404 and body["code"] == "run_not_found"
