"""A run killed with SIGKILL keeps what it flushed and is marked crashed, not running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jupyter_dlbench as dlb
from jupyter_dlbench.cli import main as cli

VICTIM = """
import sys, time, jupyter_dlbench as dlb
run = dlb.init(project="crash")
print(run.id, flush=True)
step = 0
while True:
    run.log({"t": time.time()}, step=step)
    step += 1
    time.sleep(0.0005)
"""


def test_sigkilled_run_keeps_points_older_than_200ms_and_is_crashed(workspace_dir: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(VICTIM)],
                            stdout=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()
    time.sleep(1.5)
    assert dlb.runs(project="crash")["status"][0] == "running"  # alive: not crashed
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.time()
    proc.wait()
    history = dlb.metrics(run_id, "t")
    steps = list(history["step"])
    assert steps == list(range(len(steps))), "no gaps in what was kept"
    assert history["value"].max() >= killed_at - 0.2, "points logged >200 ms before the kill were lost"
    info = dlb.run_info(run_id)
    assert info["status"] == "crashed"
    assert "ended without finishing" in info["error"]


def test_torn_journal_tail_is_dropped_and_reported(workspace_dir: Path, capsys) -> None:
    with dlb.init(project="torn") as run:
        for i in range(10):
            run.log({"x": float(i)}, step=i)
    journal = workspace_dir / "runs" / run.id / "journal.dlj"
    data = journal.read_bytes()
    journal.write_bytes(data[:-7])  # tear the end record
    assert cli(["doctor", "--rebuild"]) == 0
    assert len(dlb.metrics(run.id, "x")) == 10, "every complete record is kept"
    assert dlb.run_info(run.id)["status"] == "crashed"
    capsys.readouterr()
    assert cli(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "torn tail" in out and run.id in out
