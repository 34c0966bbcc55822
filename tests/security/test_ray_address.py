"""Ray addresses outside the allow-list (DLBENCH_RAY_ALLOWED_ADDRESSES; default loopback only)
are refused before anything is queued: CLI, Python API and REST, and again when a job starts.

A Ray job ships the notebook, its parameters and dataset bytes to the cluster and runs code
there, so where jobs may go is the server owner's choice, not the request's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.errors import InvalidInput, RayAddressNotAllowed
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.ray_policy import check_ray_address
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.sweeps.store import SweepStore
from tests.execution.conftest import write_notebook
from tests.server.conftest import SPEC_PATH, Client, OpenAPI

FOREIGN = "10.20.30.40:6379"
SETTING = "DLBENCH_RAY_ALLOWED_ADDRESSES"


@pytest.fixture
def make_notebook(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(name: str, params: str | None, *cells: str) -> Path:
        return write_notebook(tmp_path / name, params, *cells)

    return make


@pytest.fixture(autouse=True)
def _default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING, raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


@pytest.mark.parametrize("address", [
    None, "auto", "local", "127.0.0.1:6379", "localhost:6379", "ray://127.0.0.1:10001",
    "[::1]:6379", "LOCALHOST:1",
])
def test_loopback_is_allowed_by_default(address: str | None) -> None:
    assert check_ray_address(address) == (address or "auto")


@pytest.mark.parametrize("address", [
    FOREIGN, "ray://head.example.com:10001", "evil.example", "127.0.0.2:6379", "0.0.0.0:6379",
    "[fe80::1]:6379", "127.0.0.1.evil.example:6379",
])
def test_any_other_address_is_refused_naming_it_and_the_setting(address: str) -> None:
    with pytest.raises(RayAddressNotAllowed) as err:
        check_ray_address(address)
    assert repr(address) in err.value.message and SETTING in err.value.message


@pytest.mark.parametrize("address", ["ray://127.0.0.1@evil.example:10001", "http://127.0.0.1:6379",
                                     "127.0.0.1:6379/x", "127.0.0.1:port"])
def test_addresses_that_hide_another_host_are_not_addresses(address: str) -> None:
    with pytest.raises(InvalidInput, match="is not HOST:PORT"):
        check_ray_address(address)


def test_the_setting_widens_the_list_by_host_or_exact_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "127.0.0.1, head.example.com:10001")
    assert check_ray_address("ray://head.example.com:10001")
    with pytest.raises(RayAddressNotAllowed):
        check_ray_address("head.example.com:6379")  # another port of the listed host
    with pytest.raises(RayAddressNotAllowed):
        check_ray_address("localhost:6379")  # the list replaces the default
    monkeypatch.setenv("RAY_ADDRESS", FOREIGN)
    with pytest.raises(RayAddressNotAllowed, match="from RAY_ADDRESS"):
        check_ray_address(None)


def _nothing_queued(ws: Workspace) -> None:
    assert JobStore(ws).all() == [], "a job was queued"
    assert SweepStore(ws).ids() == [], "a sweep was recorded"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", *args], capture_output=True,
                          text=True, timeout=120, env=os.environ.copy(), check=False)


def test_cli_run_and_sweep_refuse_a_foreign_address_and_queue_nothing(workspace: Workspace,
                                                                      make_notebook: Any) -> None:
    nb = make_notebook("train.ipynb", "lr = 0.1", "print(lr)")
    for args in (["run", str(nb), "--executor", "ray", "--ray-address", FOREIGN],
                 ["sweep", str(nb), "lr=0.1,0.2", "--executor", "ray", "--ray-address", FOREIGN,
                  "--no-wait"]):
        done = _cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.startswith(f"dlbench: error: Ray address '{FOREIGN}' is not allowed")
        assert SETTING in done.stderr and "Traceback" not in done.stderr
    _nothing_queued(workspace)


def test_api_submit_and_sweep_refuse_a_foreign_address_and_queue_nothing(workspace: Workspace,
                                                                         make_notebook: Any) -> None:
    nb = make_notebook("train.ipynb", "lr = 0.1", "print(lr)")
    with pytest.raises(RayAddressNotAllowed, match=SETTING):
        dlb.sweep(str(nb), {"lr": [0.1, 0.2]}, executor="ray", ray_address=FOREIGN)
    with pytest.raises(RayAddressNotAllowed, match=SETTING):
        submit_notebook(workspace, nb, {}, executor="ray", ray_address=FOREIGN)
    _nothing_queued(workspace)


def test_a_job_queued_before_the_list_was_narrowed_fails_with_the_reason_when_it_starts(
        workspace: Workspace, make_notebook: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = make_notebook("train.ipynb", "lr = 0.1", "print(lr)")
    monkeypatch.setenv(SETTING, FOREIGN)
    job = submit_notebook(workspace, nb, {}, executor="ray", ray_address=FOREIGN).job_id
    monkeypatch.setenv(SETTING, "127.0.0.1")  # the runner inherits the narrower list
    scheduler = LocalScheduler(workspace)
    assert scheduler.acquire()
    try:
        [final] = scheduler.run_until_done([job])
    finally:
        scheduler.release()
    assert final.status == "failed"
    assert f"Ray address '{FOREIGN}' is not allowed" in final.error and SETTING in final.error
    assert dlb.run_info(final.run_id)["status"] == "failed"


# -- REST: POST /dlbench/api/jobs (one job, or a sweep) ----------------------------------------

@pytest.fixture
def jp_server_config(workspace_dir: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_dlbench_server": True,
                                                  "jupyter_server_terminals": False},
                          "allow_unauthenticated_access": False},
            "DlbenchServer": {"run_scheduler": False}}


@pytest.fixture
def api(jp_fetch: Any, http_server_client: Any, jp_base_url: str,
        jp_auth_header: dict[str, str]) -> Client:
    return Client(jp_fetch, OpenAPI(SPEC_PATH), http_server_client, jp_base_url, jp_auth_header)


@pytest.mark.parametrize("extra", [{}, {"sweep": "lr=0.1,0.2"}], ids=["job", "sweep"])
async def test_rest_post_jobs_refuses_a_foreign_address_and_queues_nothing(
        api: Client, jp_root_dir: Path, extra: dict[str, Any]) -> None:
    write_notebook(jp_root_dir / "train.ipynb", "lr = 0.1", "print(lr)")
    body = {"notebook": "train.ipynb", "executor": "ray", "ray_address": FOREIGN, **extra}
    status, answer = await api.post("/dlbench/api/jobs", body)
    assert status == 403, answer
    assert answer["code"] == "ray_address_not_allowed" and answer["field"] == "ray_address"
    assert f"'{FOREIGN}' is not allowed" in answer["message"] and SETTING in answer["message"]
    status, listed = await api.get("/dlbench/api/jobs")
    assert status == 200 and listed["jobs"] == []
    _nothing_queued(Workspace.find())
