"""A string parameter is data, never code: whatever it contains, the injected cell assigns
exactly that string — through ``submit_notebook`` and through ``dlbench run -p`` — and the run
records it unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace
from tests.execution.conftest import write_notebook

NAMES = ("quote", "triple", "newline", "backslash", "fstring", "magic")


def _payloads(marker: Path) -> dict[str, str]:
    touch = f"__import__('os').system('touch {marker}')"
    return {
        "quote": f"x'); import os; os.system('touch {marker}'); ('",
        "triple": f'"""\n{touch}\n"""' + "'''" + f"\n{touch}\n'''",
        "newline": f"ok\n{touch}\n#",
        "backslash": f"\\'); {touch}; (\\'\\\\",
        "fstring": f"{{{touch}}}" + "\" + str(" + touch + ") + \"",
        "magic": f"\n!touch {marker}\n%system touch {marker}",
    }


@pytest.fixture
def echo_notebook(tmp_path: Path) -> Path:
    params = "\n".join(f'{n} = "default"' for n in NAMES) + '\nout = "out.json"'
    body = ("import json, jupyter_dlbench as dlb\nrun = dlb.init()\n"
            f"json.dump({{n: globals()[n] for n in {list(NAMES)!r}}}, open(out, 'w'))")
    return write_notebook(tmp_path / "echo.ipynb", params, body)


def _run_jobs(ws: Workspace, job_ids: list[str]) -> list:  # type: ignore[type-arg]
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        return scheduler.run_until_done(job_ids)
    finally:
        scheduler.release()


def test_code_in_string_params_is_assigned_verbatim_and_never_runs(
        workspace_dir: Path, echo_notebook: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = _payloads(marker)
    out = tmp_path / "seen.json"
    ws = Workspace.find()
    job = submit_notebook(ws, echo_notebook, {**payloads, "out": str(out)})
    (final,) = _run_jobs(ws, [job.job_id])
    assert final.status == "finished", final.error
    assert not marker.exists(), "a parameter value was executed as code"
    assert json.loads(out.read_text()) == payloads, "the kernel saw a different string"
    recorded = dlb.run_info(final.run_id)["params"]
    assert {k: recorded[k] for k in NAMES} == payloads, "the run records the exact strings"


def test_cli_param_values_are_data_too(workspace_dir: Path, echo_notebook: Path,
                                       tmp_path: Path) -> None:
    marker = tmp_path / "pwned-cli"
    payloads = _payloads(marker)
    out = tmp_path / "seen-cli.json"
    argv = [sys.executable, "-m", "jupyter_dlbench.cli", "run", str(echo_notebook), "--wait",
            "-p", "out", str(out)]
    for name, value in payloads.items():
        argv += ["-p", name, value]
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists(), "a -p value was executed as code"
    assert json.loads(out.read_text()) == payloads


@pytest.mark.parametrize("name", ["x; import os", "__import__('os')", "a b", "quote\n", ""])
def test_parameter_names_that_are_not_declared_identifiers_are_refused(
        workspace_dir: Path, echo_notebook: Path, name: str) -> None:
    with pytest.raises(InvalidInput):
        submit_notebook(Workspace.find(), echo_notebook, {name: "1"})
