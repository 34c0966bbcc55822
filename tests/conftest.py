"""Shared fixtures: every test gets its own workspace under tmp_path, never the repo's."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# pytest-jupyter does not register itself; plugins must be named in the top-level conftest
pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture(autouse=True)
def _no_auto_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finished runs spawn a report writer unless DLBENCH_AUTO_REPORT=0: off by default so the
    hundreds of runs tests create start no extra processes (tests/report turns it back on)."""
    monkeypatch.setenv("DLBENCH_AUTO_REPORT", "0")


@pytest.fixture
def workspace_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ws" / ".dlbench"
    monkeypatch.setenv("DLBENCH_HOME", str(home))
    monkeypatch.setenv("DLBENCH_SYSTEM_INTERVAL", "0.5")
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def workspace(workspace_dir: Path):
    from jupyter_dlbench.store import Workspace

    return Workspace.find()


def python_script(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def run_python(code: str, env: dict[str, str] | None = None, check: bool = True,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter (never fork after duckdb is imported: DESIGN.md)."""
    done = subprocess.run(python_script(code), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"subprocess failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done
