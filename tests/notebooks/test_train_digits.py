"""examples/train_digits.ipynb under plain papermill: a real model, really tracked.

These run the ``papermill`` CLI in a subprocess, the way a user does from a terminal, so the
kernel finds its notebook from papermill's command line and nothing is injected by a job
runner.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.store import Workspace

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("papermill")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_digits.ipynb"
# set inside a dlbench job; a test run there must still start runs of its own
JOB_VARS = ("DLBENCH_RUN_ID", "DLBENCH_JOB_ID", "DLBENCH_NOTEBOOK_PATH", "DLBENCH_INPUT_NOTEBOOK",
            "DLBENCH_SNAPSHOT_OID", "DLBENCH_PROJECT")


def papermill(notebook: Path, out: Path, *params: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``python -m papermill`` with this interpreter: the venv's ``python3`` kernelspec runs
    ``python``, which jupyter_client replaces with the launching interpreter, so the kernel
    sees the same packages as the test."""
    env = {k: v for k, v in os.environ.items() if k not in JOB_VARS}
    env["DLBENCH_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "papermill", str(notebook), str(out), *params, "-k", "python3"],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_plain_papermill_run_of_the_example_is_tracked(workspace_dir: Path, tmp_path: Path) -> None:
    t0 = time.monotonic()
    done = papermill(EXAMPLE, tmp_path / "out.ipynb", "-p", "lr", "0.01", "-p", "epochs", "5",
                     home=workspace_dir)
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    assert elapsed < 60, f"the example must run in well under a minute, took {elapsed:.1f} s"

    runs = dlb.runs(project="digits")
    assert len(runs) == 1
    info = dlb.run_info(runs["run_id"][0])
    assert info["status"] == "finished" and not info["error"]
    assert info["params"]["lr"] == 0.01 and isinstance(info["params"]["lr"], float)
    assert info["params"]["epochs"] == 5
    assert info["params"]["hidden"] == 64 and info["params"]["batch_size"] == 64
    assert info["params"]["seed"] == 0
    assert runs["params.lr"][0] == 0.01

    loss = dlb.metrics(info["run_id"], "loss")
    assert list(loss["step"]) == [0, 1, 2, 3, 4]
    assert loss["value"].iloc[-1] < loss["value"].iloc[0], "training reduces the loss"
    assert list(dlb.metrics(info["run_id"], "val_acc")["step"]) == [0, 1, 2, 3, 4]
    assert info["metrics"]["val_acc"]["last"] > 0.8
    assert info["metrics"]["acc"]["count"] == 5

    objects = Workspace.find().objects
    assert info["notebook_path"] == str(EXAMPLE)
    assert objects.read_bytes(info["snapshot_oid"]) == EXAMPLE.read_bytes()
    env = info["environment"]
    assert env["python"] == platform.python_version()
    assert env["python_executable"] == sys.executable, "the kernel runs the venv's interpreter"
    assert env["packages"]["torch"] == metadata.version("torch")
    assert info["hardware"]["cpu_count"] == os.cpu_count()

    artifacts = {a["path"]: a["oid"] for a in info["artifacts"]}
    assert "model.pt" in artifacts
    state = torch.load(objects.path(artifacts["model.pt"]), weights_only=True)
    assert state["0.weight"].shape == (64, 64) and state["2.weight"].shape == (10, 64)


def test_a_failing_cell_under_papermill_marks_the_run_failed(workspace_dir: Path, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import jupyter_dlbench as dlb\nrun = dlb.init(project='boom')"),
                nbformat.v4.new_code_cell("run.log({'x': 1.0})"),
                nbformat.v4.new_code_cell("1 / 0"),
                nbformat.v4.new_code_cell("run.log({'x': 2.0})")]
    path = tmp_path / "boom.ipynb"
    nbformat.write(nb, path)
    done = papermill(path, tmp_path / "out.ipynb", home=workspace_dir)
    assert done.returncode != 0
    assert "ZeroDivisionError" in done.stderr

    runs = dlb.runs(project="boom")
    assert len(runs) == 1
    info = dlb.run_info(runs["run_id"][0])
    assert info["status"] == "failed"
    assert "ZeroDivisionError" in info["error"]
    assert info["metrics"]["x"]["last"] == 1.0 and info["metrics"]["x"]["count"] == 1, \
        "papermill stops at the failing cell; what was logged before it is kept"
