"""``dlbench report SWEEP`` on a real sweep: papermill kernels, runner processes, the engine's trials."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from tests.execution.conftest import write_notebook
from tests.report.pages import Page, table_rows
from tests.report.test_report_cli import dlbench

TRAIN = (
    "import jupyter_dlbench as dlb\n"
    "run = dlb.init()\n"
    "for i in range(3):\n"
    "    run.log({'val_acc': lr * (i + 1)}, step=i)\n"
    "print(f'trained with lr={lr}')\n"
    "if lr > 0.25:\n"
    "    raise ValueError('lr too high: diverged')"
)


@pytest.mark.slow
def test_report_of_a_real_sweep_ranks_trials_and_explains_the_failed_one(workspace_dir: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBENCH_AUTO_REPORT", "1")
    nb = write_notebook(tmp_path / "train.ipynb", "lr = 0.1", TRAIN)
    sweep = dlb.sweep(str(nb), {"lr": [0.1, 0.2, 0.3]}, concurrency=2, wait=True)
    assert [t["status"] for t in sweep.trials()] == ["finished", "finished", "failed"]
    auto = workspace_dir / "sweeps" / sweep.id / "report.html"
    deadline = time.monotonic() + 120
    while not auto.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert auto.exists(), "the engine writes the sweep's report.html when the sweep ends"
    monkeypatch.setenv("DLBENCH_AUTO_REPORT", "0")

    done = dlbench("report", sweep.id, "--format", "md")
    assert done.returncode == 0, done.stderr
    md = done.stdout
    lines = [line for line in md.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    assert "| 0\\.2 | 0\\.6 |" in lines[0] and "| 0\\.1 | 0\\.3 |" in lines[1]
    failed = next(line for line in md.splitlines() if "failed" in line and "ValueError" in line)
    assert "lr too high: diverged" in failed

    done = dlbench("report", sweep.id[:14])
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path == workspace_dir / "sweeps" / sweep.id / "report.html"
    text = path.read_text()
    assert f"Sweep {sweep.name}" in Page(text).visible
    assert any(r[:1] == ["1"] and r[-1] == "0.6" for r in table_rows(text))

    # what the engine runs, detached, when a sweep ends
    path.unlink()
    done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.reports.autowrite", sweep.id, "--sweep",
                           "--workspace", str(workspace_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert any(r[:1] == ["1"] and r[-1] == "0.6" for r in table_rows(path.read_text()))

    # a trial's run report: its kernel's output (from the output notebook) and a link to it
    best_run = sweep.best["run_id"]
    done = dlbench("report", best_run, "--format", "md")
    assert "```\ntrained with lr=0.2\n" in done.stdout
    assert "Output notebook: output\\.ipynb" in done.stdout
