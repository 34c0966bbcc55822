"""Loading the extension: which workspace it serves, and how it fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.extension.manager import ExtensionPackage

import jupyter_dlbench

CONFIG_JSON = (
    Path(__file__).resolve().parents[2]
    / "server_ext"
    / "jupyter-config"
    / "server-config"
    / "jupyter_dlbench_server.json"
)


def test_extension_point_validates_and_config_enables_it() -> None:
    package = ExtensionPackage(name="jupyter_dlbench_server")
    assert package.validate()
    assert json.loads(CONFIG_JSON.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"jupyter_dlbench_server": True}}
    }


async def test_health_reports_version_and_the_dlbench_home_workspace(
    api: Any, workspace_dir: Path
) -> None:
    status, body = await api.get("/dlbench/api/health")
    assert status == 200
    assert body == {
        "status": "ok",
        "version": jupyter_dlbench.__version__,
        "workspace": str(workspace_dir),
    }
    assert workspace_dir.is_dir()


class TestWorkspaceTrait:
    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
        jp_server_config["DlbenchServer"] = {"workspace": str(tmp_path / "configured")}
        return jp_server_config

    async def test_the_configured_workspace_wins_over_dlbench_home(
        self, api: Any, tmp_path: Path
    ) -> None:
        _, body = await api.get("/dlbench/api/health")
        assert body["workspace"] == str(tmp_path / "configured")
        _, body = await api.get("/dlbench/api/runs")
        assert body["total"] == 0 and (tmp_path / "configured" / "catalog.duckdb").exists()


class TestDefaultWorkspace:
    @pytest.fixture
    def jp_server_config(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
        monkeypatch.delenv("DLBENCH_HOME", raising=False)
        # the process cwd must not matter: it has a workspace of its own, a decoy
        (tmp_path / "elsewhere" / ".dlbench").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / "elsewhere")
        return {
            "ServerApp": {
                "jpserver_extensions": {
                    "jupyter_dlbench_server": True,
                    "jupyter_server_terminals": False,
                },
                "allow_unauthenticated_access": False,
            }
        }

    async def test_without_home_the_workspace_is_under_root_dir(
        self, api: Any, jp_root_dir: Path
    ) -> None:
        _, body = await api.get("/dlbench/api/health")
        # a `.dlbench` above the test's temporary folder (left by something else on this
        # machine) is legitimately the nearest one; without it, root_dir gets a new one
        above = next((d / ".dlbench" for d in jp_root_dir.parents if (d / ".dlbench").is_dir()),
                     None)
        assert body["workspace"] == str(above or jp_root_dir / ".dlbench")
        assert "elsewhere" not in body["workspace"]


class TestBrokenWorkspace:
    @pytest.fixture
    def jp_server_config(self, jp_server_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
        (tmp_path / "a-file").write_text("not a folder")
        jp_server_config["DlbenchServer"] = {"workspace": str(tmp_path / "a-file")}
        return jp_server_config

    @pytest.mark.parametrize("path", ["/dlbench/api/health", "/dlbench/api/runs"])
    async def test_the_server_stays_up_and_every_call_says_why(
        self, api: Any, tmp_path: Path, path: str
    ) -> None:
        status, body = await api.get(path)
        assert status == 500
        assert body["code"] == "workspace"
        assert str(tmp_path / "a-file") in body["message"] and "not a folder" in body["message"]


class TestBusyCatalog:
    @pytest.fixture
    def jp_server_config(
        self, jp_server_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> dict[str, Any]:
        # read when the server builds its Workspace, so set before it starts
        monkeypatch.setenv("DLBENCH_LOCK_TIMEOUT", "0.3")
        return jp_server_config

    async def test_a_catalog_held_past_the_timeout_is_a_503(self, api: Any, make_run: Any) -> None:
        from jupyter_dlbench.store import Workspace
        from jupyter_dlbench.store.lock import file_lock

        make_run()
        with file_lock(Workspace.find().catalog.lock_path, exclusive=True, timeout=5):
            status, body = await api.get("/dlbench/api/runs")
        assert status == 503
        assert body["code"] == "catalog_busy" and "DLBENCH_LOCK_TIMEOUT" in body["message"]


async def test_an_unexpected_error_is_a_json_500_without_internals(
    api: Any, workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_dlbench_server import payloads

    def broken(*args: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(payloads, "run_list", broken)
    status, body = await api.get("/dlbench/api/runs")
    assert status == 500
    assert body["code"] == "internal_error"
    assert "secret" not in body["message"] and "Traceback" not in body["message"]
