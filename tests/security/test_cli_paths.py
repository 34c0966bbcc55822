"""Paths given to the CLI: a bad one is a one-line error naming it (exit 2), never a traceback.

Decision (docs/security.md): the CLI runs as the user who typed it, so a notebook or data folder
outside the working directory (``dlbench run ../train.ipynb``) is legitimate and accepted; what
is refused is what no file system can honour — a NUL byte, a 10,000-character name, a workspace
that is a file — and ids that try to be paths (``../../etc/passwd`` as a run id).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_dlbench.cli import main as cli
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.store import Workspace
from tests.execution.conftest import write_notebook

LONG = "/tmp/" + "a" * 10_000


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str) -> str:
    code = cli(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("dlbench: error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    return err


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--workspace", "{file}", "runs", "ls"], "exists but is not a folder"),
    (["--workspace", "/dev/null", "runs", "ls"], "exists but is not a folder"),
    (["--workspace", LONG, "runs", "ls"], "File name too long"),
    (["--workspace", "{tmp}/ws\x00evil", "runs", "ls"], "NUL byte"),
    (["--workspace", "{file}/below", "runs", "ls"], "cannot create the workspace"),
    (["--workspace", "/proc/self/none/ws", "runs", "ls"], "cannot create the workspace"),
])
def test_unusable_workspace_paths_are_one_line_errors(
        workspace_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        argv: list[str], fragment: str) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a workspace")
    argv = [a.format(file=blocker, tmp=tmp_path) for a in argv]
    _one_line_error(capsys, argv, fragment)
    assert blocker.read_text() == "not a workspace", "the file named as workspace is untouched"


@pytest.mark.parametrize(("argv", "fragment"), [
    (["run", LONG + ".ipynb"], "File name too long"),
    (["run", "nb\x00.ipynb"], "NUL byte"),
    (["run", "../missing.ipynb"], "does not exist"),
    (["runs", "show", "../../etc/passwd"], "no run matches"),
    (["rerun", "../../etc/passwd"], "no run matches"),
    (["jobs", "show", "../../etc/passwd"], "no job matches"),
    (["jobs", "cancel", "..\\..\\etc\\passwd"], "no job matches"),
    (["runs", "show", "a" * 10_000], "no run matches"),
])
def test_bad_paths_and_path_like_ids_are_one_line_errors(
        workspace_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str) -> None:
    _one_line_error(capsys, argv, fragment)


def test_home_env_with_an_impossible_path_is_a_one_line_error(
        workspace_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DLBENCH_HOME", LONG)
    err = _one_line_error(capsys, ["runs", "ls"], "DLBENCH_HOME")
    assert len(err) < 400, "the message names the path without pasting 10,000 characters"


def test_a_notebook_outside_the_working_directory_is_accepted(
        workspace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    outside = write_notebook(tmp_path / "outside.ipynb", "x = 1", "print(x)")
    inner = tmp_path / "project"
    inner.mkdir()
    monkeypatch.chdir(inner)
    assert cli(["run", "../outside.ipynb"]) == 0
    job_id = capsys.readouterr().out.split()[0]
    state = JobStore(Workspace.find()).load(job_id)
    assert state.status == "queued"
    assert Path(state.spec.notebook).resolve() == outside.resolve()


def test_real_cli_process_prints_no_traceback_for_a_long_workspace_path(workspace_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "--workspace", LONG, "runs", "ls"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.startswith("dlbench: error:")
