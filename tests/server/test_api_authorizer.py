"""An authorizer that refuses the "dlbench" resource makes every endpoint answer 403."""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer

ENDPOINTS = [
    "/dlbench/api/health",
    "/dlbench/api/runs",
    "/dlbench/api/runs/some-run",
    "/dlbench/api/runs/some-run/metrics",
]


class DenyDlbench(Authorizer):
    """Allows everything except the dlbench resource, and remembers what it was asked."""

    asked: list[tuple[str, str]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        DenyDlbench.asked.append((action, resource))
        return resource != "dlbench"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    DenyDlbench.asked.clear()
    jp_server_config["ServerApp"]["authorizer_class"] = DenyDlbench
    return jp_server_config


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_an_authorizer_that_denies_dlbench_gets_403(api: Any, path: str) -> None:
    status, body = await api.get(path)
    assert status == 403
    assert body == {
        "code": "forbidden",
        "message": "User is not authorized to read on resource: dlbench.",
    }
    assert ("read", "dlbench") in DenyDlbench.asked
