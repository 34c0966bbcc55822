"""An authorizer that refuses the "dlbench" resource makes every endpoint answer 403."""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer
from test_api_auth import REQUESTS


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


@pytest.mark.parametrize(("method", "path"), REQUESTS)
async def test_an_authorizer_that_denies_dlbench_gets_403(
    api: Any, method: str, path: str
) -> None:
    action = "read" if method == "GET" else "write"
    status, body = await api.call(method, path,
                                  body={"notebook": "x.ipynb"} if method == "POST" else None)
    assert status == 403
    assert body == {
        "code": "forbidden",
        "message": f"User is not authorized to {action} on resource: dlbench.",
    }
    assert (action, "dlbench") in DenyDlbench.asked
