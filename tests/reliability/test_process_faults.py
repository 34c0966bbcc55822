"""A run process that dies badly — ``os._exit``, a segfault, out of memory, SIGKILL in the middle
of a metric flush — keeps every point it flushed, ends ``crashed`` (or ``failed`` with the
error) instead of ``running``, and its journal reads back as a clean prefix.

(SIGKILL between flushes and a kernel's ``os._exit`` inside a job are covered by
tests/tracking/test_crash.py and tests/execution/test_local_jobs.py.)
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import doctor
from jupyter_dlbench.tracking.journal import read_journal
from tests.execution.conftest import write_notebook
from tests.reliability.helpers import spawn_script

FLUSHED = 1000
UNFLUSHED = 100

VICTIM = f"""
import ctypes, os, re, resource, sys
import jupyter_dlbench as dlb
mode = sys.argv[1]
run = dlb.init(project="faults", name=mode)
for i in range({FLUSHED}):
    run.log({{"x": float(i)}}, step=i)
run.flush()
print(run.id, flush=True)
for i in range({FLUSHED}, {FLUSHED} + {UNFLUSHED}):
    run.log({{"x": float(i)}}, step=i)  # still in memory: may be lost, never misread
if mode == "exit":
    os._exit(3)
elif mode == "segfault":
    ctypes.string_at(0)
elif mode == "oom":
    status = open("/proc/self/status").read()
    vm = int(re.search(r"VmSize:\\s+(\\d+)", status).group(1)) * 1024
    limit = vm + (256 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    hog = []
    while True:
        hog.append(bytearray(16 << 20))
"""


def _steps(run_id: str) -> list[int]:
    return list(dlb.metrics(run_id, "x")["step"])


@pytest.mark.parametrize(("mode", "returncode"), [("exit", 3), ("segfault", -signal.SIGSEGV)])
def test_process_that_dies_without_finishing_keeps_flushed_points_and_is_crashed(
        workspace_dir: Path, mode: str, returncode: int) -> None:
    proc = spawn_script(VICTIM, mode)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == returncode, err
    run_id = out.split()[0]
    steps = _steps(run_id)
    assert steps == list(range(len(steps))), "a gap: a record was misread or dropped mid-journal"
    assert len(steps) >= FLUSHED, f"only {len(steps)} of the {FLUSHED} flushed points survived"
    info = dlb.run_info(run_id)
    assert info["status"] == "crashed"
    assert "ended without finishing" in info["error"]
    report = doctor.check(Workspace.find())
    assert report.ok, report.problems  # a clean exit between writes tears nothing


def test_out_of_memory_fails_the_run_with_the_error_and_keeps_every_point(workspace_dir: Path) -> None:
    proc = spawn_script(VICTIM, "oom")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "MemoryError" in err, err
    run_id = out.split()[0]
    assert _steps(run_id) == list(range(FLUSHED + UNFLUSHED)), "the run had time to flush everything"
    info = dlb.run_info(run_id)
    assert info["status"] == "failed"
    assert "MemoryError" in info["error"]


FLUSHER = """
import sys, jupyter_dlbench as dlb
run = dlb.init(project="faults", name="flusher")
print(run.id, flush=True)
step = 0
while True:
    for _ in range(200_000):
        run.log({"x": float(step)}, step=step)
        step += 1
    run.flush()
    print(step, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.01, 0.05])
def test_sigkill_in_the_middle_of_a_large_flush_keeps_a_clean_prefix(workspace_dir: Path,
                                                                     delay: float) -> None:
    proc = spawn_script(FLUSHER)
    run_id = proc.stdout.readline().strip()
    durable = 0
    for _ in range(3):  # let three large batches land, then kill during the following ones
        durable = int(proc.stdout.readline())
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    journal = workspace_dir / "runs" / run_id / "journal.dlj"
    raw = read_journal(journal)
    assert raw.problem is None, raw.problem  # a torn tail is incomplete, never a bad checksum
    steps = _steps(run_id)
    assert steps == list(range(len(steps))), "a record was misread or dropped mid-journal"
    assert len(steps) >= durable, f"{durable - len(steps)} points flushed before the kill were lost"
    assert dlb.run_info(run_id)["status"] == "crashed"
    report = doctor.check(Workspace.find())
    if raw.trailing_bytes:
        assert any("torn tail" in p and run_id in p for p in report.problems), report.problems
    else:
        assert report.ok, report.problems
    assert os.path.getsize(journal) >= raw.end


@pytest.mark.slow
def test_a_kernel_that_segfaults_in_a_job_keeps_what_earlier_cells_logged(workspace_dir: Path,
                                                                         tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "segv.ipynb", "n = 300",
                        "import jupyter_dlbench as dlb\nrun = dlb.init()\n"
                        "for i in range(n):\n    run.log({'x': float(i)}, step=i)",
                        "for i in range(n, n + 50):\n    run.log({'x': float(i)}, step=i)",
                        "import ctypes\nctypes.string_at(0)")
    ws = Workspace.find()
    job = submit_notebook(ws, nb, {}).job_id
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        (final,) = scheduler.run_until_done([job])
    finally:
        scheduler.release()
    assert final.status == "failed" and "kernel died" in final.error
    assert _steps(final.run_id) == list(range(350)), "each finished cell is a durability point"
    assert dlb.run_info(final.run_id)["status"] == "crashed"
