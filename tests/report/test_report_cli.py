"""``dlbench report`` from a terminal, and report.html written when a run ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_python
from tests.report.pages import XSS, Page, table_rows


def dlbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=120, cwd=cwd)


def test_report_writes_html_into_the_run_folder_and_prints_its_path(make_run, workspace) -> None:
    run = make_run("cli", {"lr": 0.5}, {"loss": [2.0, 1.0]})
    done = dlbench("report", run[:17])
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path == workspace.run_dir(run) / "report.html"
    assert ["lr", "0.5"] in table_rows(path.read_text())
    assert not list(path.parent.glob(".report.html.*")), "no temp file left behind"


def test_report_markdown_goes_to_stdout_and_o_writes_a_file(make_run, tmp_path: Path) -> None:
    run = make_run(XSS, {"lr": 0.5}, {"loss": [2.0, 1.0]})
    done = dlbench("report", run, "--format", "md")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## Run &lt;img") and "| lr | 0\\.5 |" in done.stdout
    out = tmp_path / "r.html"
    done = dlbench("report", run, "-o", str(out))
    assert done.returncode == 0 and done.stdout.strip() == str(out)
    assert "img" not in [t for t, _ in Page(out.read_text()).tags]


def test_report_of_an_unknown_run_is_one_line_error(workspace) -> None:
    done = dlbench("report", "nope-123")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "dlbench: error: no run or sweep matches 'nope-123'; `dlbench runs ls` lists the runs, "
        "`dlbench sweeps ls` the sweeps"]
    done = dlbench("report", "x", "--format", "pdf")
    assert done.returncode == 2 and "invalid choice: 'pdf'" in done.stderr


def test_report_html_is_written_automatically_when_a_run_ends(workspace_dir: Path) -> None:
    done = run_python("""
        import jupyter_dlbench as dlb
        with dlb.init(project="auto", name="auto-report", params={"lr": 0.25}) as run:
            for i in range(5):
                run.log({"loss": 1.0 / (i + 1)}, step=i)
        print(run.id)
    """, {"DLBENCH_AUTO_REPORT": "1"})
    run_id = done.stdout.strip().splitlines()[-1]
    report = workspace_dir / "runs" / run_id / "report.html"
    deadline = time.monotonic() + 90
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert report.exists(), (workspace_dir / "runs" / run_id / "report.log").read_text() \
        if (workspace_dir / "runs" / run_id / "report.log").exists() else "no report.html within 90 s"
    rows = table_rows(report.read_text())
    assert ["lr", "0.25"] in rows
    assert next(r for r in rows if r and r[0] == "loss")[1] == "0.2"
