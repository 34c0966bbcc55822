"""The REST runs list on a full disk: the catalog as it was, with a warning, never a 507.

A real Jupyter server (pytest-jupyter) serves a workspace on the fillable tmpfs of
``small_disk``; answers are checked against ``server_ext/openapi.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import jupyter_dlbench as dlb
from tests.reliability.helpers import SmallDisk
from tests.server.conftest import SPEC_PATH, Client, OpenAPI

RUNS = "/dlbench/api/runs"


@pytest.fixture
def jp_server_config(small_disk: SmallDisk) -> dict[str, Any]:
    # Depends on small_disk so DLBENCH_HOME points at the small disk before the server starts.
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_dlbench_server": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "DlbenchServer": {"run_scheduler": False},
    }


@pytest.fixture
def api(jp_fetch: Any, http_server_client: Any, jp_base_url: str,
        jp_auth_header: dict[str, str]) -> Client:
    return Client(jp_fetch, OpenAPI(SPEC_PATH), http_server_client, jp_base_url, jp_auth_header)


def _run(lr: float, points: int) -> str:
    with dlb.init(project="full", params={"lr": lr}) as run:
        for i in range(points):
            run.log({"loss": float(i), "acc": float(i)}, step=i)
    return run.id


@pytest.mark.filterwarnings("ignore::jupyter_dlbench.errors.CatalogStale")  # the server logs it
async def test_the_runs_list_on_a_full_disk_is_the_catalog_as_it_was_with_a_warning(
        small_disk: SmallDisk, api: Client, tmp_path: Path) -> None:
    first = _run(0.1, 50)
    status, body = await api.get(RUNS)
    assert status == 200 and [r["run_id"] for r in body["runs"]] == [first]
    assert "warnings" not in body
    second = _run(0.2, 20_000)  # enough rows that the catalog's WAL cannot fit in the last bytes
    small_disk.fill()
    for params in (None, {"where": "params.lr > 0"}):  # the server's cached table, and afresh
        status, body = await api.get(RUNS, params=params)
        assert status == 200, body
        assert [r["run_id"] for r in body["runs"]] == [first], params
        [warning] = body["warnings"]
        assert "newer run records could not be ingested" in warning
        assert "no space left on the disk holding the catalog" in warning
    small_disk.free()
    status, body = await api.get(RUNS)
    assert status == 200 and sorted(r["run_id"] for r in body["runs"]) == sorted([first, second])
    assert "warnings" not in body
