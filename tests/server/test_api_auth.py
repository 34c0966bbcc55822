"""Every endpoint needs authentication and authorization on the "dlbench" resource."""

from __future__ import annotations

from typing import Any

import pytest

ENDPOINTS = [
    "/dlbench/api/health",
    "/dlbench/api/runs",
    "/dlbench/api/runs/some-run",
    "/dlbench/api/runs/some-run/metrics",
]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_without_a_token_every_endpoint_is_403(api: Any, path: str) -> None:
    status, body = await api.get(path, headers={"Authorization": ""})
    assert status == 403
    assert body["code"] == "forbidden"
