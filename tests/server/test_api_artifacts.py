"""GET /dlbench/api/runs/{id}/artifacts/{path}: downloads, safe types, and refused paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

RUNS = "/dlbench/api/runs"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@pytest.fixture
def run_with_artifacts(workspace_dir: Path, tmp_path: Path) -> str:
    import jupyter_dlbench as dlb

    files = tmp_path / "files"
    (files / "plots").mkdir(parents=True)
    (files / "plots" / "loss.png").write_bytes(PNG)
    (files / "model.pt").write_bytes(b"\x00weights" * 1000)
    (files / "page.html").write_text("<script>alert(document.cookie)</script>")
    (files / "résumé des runs.txt").write_text("ok\n")
    run = dlb.init(name="with-artifacts")
    for name in ("plots", "model.pt", "page.html", "résumé des runs.txt"):
        run.log_artifact(files / name)
    run.finish()
    return run.id


@pytest.mark.parametrize(
    ("path", "content", "ctype", "filename"),
    [
        ("model.pt", b"\x00weights" * 1000, "application/octet-stream", "model.pt"),
        ("plots/loss.png", PNG, "image/png", "loss.png"),
        ("page.html", b"<script>alert(document.cookie)</script>", "application/octet-stream",
         "page.html"),
        ("résumé des runs.txt", b"ok\n", "text/plain", "r%C3%A9sum%C3%A9%20des%20runs.txt"),
    ],
)
async def test_download_streams_the_bytes_as_an_attachment_with_a_safe_type(
    api: Any, run_with_artifacts: str, path: str, content: bytes, ctype: str, filename: str
) -> None:
    response = await api.fetch("GET", f"{RUNS}/{run_with_artifacts}/artifacts/{path}")
    assert response.code == 200
    assert response.body == content
    assert response.headers["Content-Type"] == ctype
    assert response.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{filename}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


async def test_the_artifact_paths_of_the_run_detail_are_downloadable(
    api: Any, run_with_artifacts: str
) -> None:
    _, detail = await api.get(f"{RUNS}/{run_with_artifacts}")
    paths = sorted(a["path"] for a in detail["artifacts"])
    assert paths == ["model.pt", "page.html", "plots/loss.png", "résumé des runs.txt"]
    for path in paths:
        response = await api.fetch(
            "GET", f"{RUNS}/{run_with_artifacts}/artifacts/{quote(path)}", raw=True)
        assert response.code == 200, path


async def test_a_path_the_run_has_no_artifact_at_is_a_404_listing_its_artifacts(
    api: Any, run_with_artifacts: str
) -> None:
    status, body = await api.get(f"{RUNS}/{run_with_artifacts}/artifacts/plots/nope.png")
    assert status == 404 and body["code"] == "artifact_not_found"
    assert "'plots/loss.png'" in body["message"]
    status, body = await api.get(f"{RUNS}/no-such-run/artifacts/model.pt")
    assert status == 404 and body["code"] == "run_not_found"


TRAVERSALS = [
    "../../../../etc/passwd",
    "plots/../../etc/passwd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "model.pt%00.png",
    "plots%5C..%5C..%5Cetc%5Cpasswd",
]


async def test_traversal_forms_are_a_400_json(api: Any, run_with_artifacts: str) -> None:
    for raw_path in TRAVERSALS:  # sent as typed: no client-side escaping
        response = await api.fetch(
            "GET", f"{RUNS}/{run_with_artifacts}/artifacts/{raw_path}", raw=True)
        assert response.code == 400, (raw_path, response.body)
        assert response.headers["Content-Type"].startswith("application/json")
        assert b'"path_not_allowed"' in response.body, raw_path
