"""examples/train_digits.ipynb under plain papermill: a real model, really tracked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.store import Workspace

pytest.importorskip("torch")
pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_digits.ipynb"


def papermill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "papermill", *args, "-k", "python3"], cwd=cwd,
                          capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_plain_papermill_run_of_the_example_is_tracked(workspace_dir: Path, tmp_path: Path) -> None:
    t0 = time.time()
    done = papermill(str(EXAMPLE), str(tmp_path / "out.ipynb"), "-p", "lr", "0.01", "-p", "epochs", "5",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.time() - t0 < 60, "the example must run in well under a minute"
    runs = dlb.runs(project="digits")
    assert len(runs) == 1
    info = dlb.run_info(runs["run_id"][0])
    assert info["status"] == "finished"
    assert info["params"]["lr"] == 0.01 and isinstance(info["params"]["lr"], float)
    assert info["params"]["epochs"] == 5
    assert info["params"]["hidden"] == 64 and info["params"]["batch_size"] == 64
    loss = dlb.metrics(info["run_id"], "loss")
    assert list(loss["step"]) == [0, 1, 2, 3, 4]
    assert loss["value"].iloc[-1] < loss["value"].iloc[0], "training reduces the loss"
    assert info["metrics"]["val_acc"]["last"] > 0.8
    objects = Workspace.find().objects
    assert objects.read_bytes(info["snapshot_oid"]) == EXAMPLE.read_bytes()
    assert info["notebook_path"] == str(EXAMPLE)
    assert info["environment"]["packages"]["torch"].startswith("2.")
    assert info["hardware"]["cpu_count"] >= 1
    assert "model.pt" in {a["path"] for a in info["artifacts"]}


def test_a_failing_cell_under_papermill_marks_the_run_failed(workspace_dir: Path, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import jupyter_dlbench as dlb\nrun = dlb.init(project='boom')"),
                nbformat.v4.new_code_cell("run.log({'x': 1.0})"),
                nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "boom.ipynb"
    nbformat.write(nb, path)
    done = papermill(str(path), str(tmp_path / "out.ipynb"), cwd=tmp_path)
    assert done.returncode != 0
    info = dlb.run_info(dlb.runs(project="boom")["run_id"][0])
    assert info["status"] == "failed"
    assert "ZeroDivisionError" in info["error"]
    assert info["metrics"]["x"]["last"] == 1.0
