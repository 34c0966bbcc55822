"""examples/compare_and_report.ipynb under plain papermill: train, compare, report, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import jupyter_dlbench as dlb

pytest.importorskip("torch")
pytest.importorskip("sklearn")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JOB_VARS = ("DLBENCH_RUN_ID", "DLBENCH_JOB_ID", "DLBENCH_NOTEBOOK_PATH", "DLBENCH_INPUT_NOTEBOOK",
            "DLBENCH_SNAPSHOT_OID", "DLBENCH_PROJECT")


@pytest.mark.slow
def test_compare_and_report_example_runs_the_whole_loop(workspace_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in JOB_VARS}
    env["DLBENCH_HOME"] = str(workspace_dir)
    out = tmp_path / "out.ipynb"
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(EXAMPLES / "compare_and_report.ipynb"), str(out),
         "-k", "python3", "-y", "{lrs: [0.001, 0.1], epochs: 2}"],
        cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=400, check=False)
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"example ran in {elapsed:.0f} s")

    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    kinds = [k for o in outputs for k in o.get("data", {})]
    assert "application/vnd.jupyter.widget-view+json" in kinds, "the comparison widget is shown"
    assert "application/vnd.bokehjs_load.v0+json" in kinds, "BokehJS is put on the page, inline"
    texts = "".join(o.get("text", "") for o in outputs)
    assert "best run:" in texts and "lr = 0.1" in texts
    assert "### Leaderboard" in texts and "### Parameter importance" in texts
    iframe = next(o["data"]["text/html"] for o in outputs if "<iframe" in o.get("data", {}).get("text/html", ""))
    assert 'sandbox="allow-scripts"' in iframe
    runs = dlb.runs(project="digits")  # the test's workspace (DLBENCH_HOME), not examples/.dlbench
    assert sorted(runs["params.lr"]) == [0.001, 0.1] and set(runs["status"]) == {"finished"}
