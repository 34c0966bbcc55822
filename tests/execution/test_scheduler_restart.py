"""A scheduler SIGKILLed with jobs queued and running, then restarted: nothing lost, stuck or
run twice, and cancel still works (jupyter-scheduler's known failure)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace


def _worker() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jupyter_dlbench.cli", "worker", "--concurrency", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def _wait(predicate, timeout: float = 120, what: str = "") -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_worker_killed_and_restarted_adopts_running_and_runs_queued(workspace_dir: Path, make_notebook) -> None:
    sleeper = make_notebook("sleep.ipynb", "seconds = 1.0", "import time\ntime.sleep(seconds)")
    ws = Workspace.find()
    store = JobStore(ws)
    a = submit_notebook(ws, sleeper, {"seconds": 10.0}).job_id
    b = submit_notebook(ws, sleeper, {"seconds": 0.5}).job_id
    c = submit_notebook(ws, sleeper, {"seconds": 300.0}).job_id
    first = _worker()
    _wait(lambda: store.load(a).status == "running" and store.load(a).pid, what="job a to run")
    first.send_signal(signal.SIGKILL)
    first.wait()
    runner_pid = store.load(a).pid
    os.kill(runner_pid, 0)  # the runner survived its scheduler
    assert store.load(b).status == "queued"
    second = _worker()
    try:
        _wait(lambda: store.load(a).terminal and store.load(b).terminal, timeout=180, what="a and b")
        _wait(lambda: store.load(c).status == "running" and store.load(c).run_id, what="c to run")
        assert dlbench_cancel(c) == 0
        _wait(lambda: store.load(c).terminal, timeout=60, what="c to be cancelled")
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
    states = {j: store.load(j) for j in (a, b, c)}
    assert states[a].status == "finished" and states[a].attempt == 1, "adopted, not run twice"
    assert states[b].status == "finished" and states[b].attempt == 1
    assert states[c].status == "cancelled"
    runs = dlb.runs()
    assert sorted(runs["status"]) == ["cancelled", "finished", "finished"], "one run per job"


def dlbench_cancel(job_id: str) -> int:
    return subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "jobs", "cancel", job_id],
                          env=os.environ.copy(), capture_output=True).returncode


@pytest.mark.slow
def test_runner_dead_while_no_scheduler_runs_is_marked_lost_at_restart(workspace_dir: Path,
                                                                      make_notebook) -> None:
    sleeper = make_notebook("sleep.ipynb", "seconds = 1.0", "import time\ntime.sleep(seconds)")
    ws = Workspace.find()
    store = JobStore(ws)
    a = submit_notebook(ws, sleeper, {"seconds": 300.0}).job_id
    first = _worker()
    _wait(lambda: store.load(a).status == "running" and store.load(a).pid, what="job a to run")
    first.send_signal(signal.SIGKILL)
    first.wait()
    os.kill(store.load(a).pid, signal.SIGKILL)
    time.sleep(0.5)
    second = _worker()
    try:
        _wait(lambda: store.load(a).terminal, timeout=60, what="reconciliation")
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
    state = store.load(a)
    assert state.status == "lost" and "runner" in state.error
    assert dlb.run_info(state.run_id)["status"] == "crashed"


def test_a_job_placed_but_never_started_is_queued_again_and_runs_once(workspace_dir: Path,
                                                                       make_notebook) -> None:
    """A scheduler that dies between placing a job and its runner starting leaves it
    "starting" with no runner: no cell ran, so the next scheduler queues it again (not lost),
    and a runner that comes up late for the abandoned start runs nothing."""
    from jupyter_dlbench.execution.scheduler import LocalScheduler

    nb = make_notebook("once.ipynb", "x = 1", "import jupyter_dlbench as dlb\ndlb.init().log({'x': 1.0})")
    ws = Workspace.find()
    store = JobStore(ws)
    job = submit_notebook(ws, nb, {}).job_id
    store.append(job, {"t": "starting", "attempt": 1, "gpu_ids": []})  # then the scheduler died

    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        assert store.load(job).status == "queued", store.load(job).error
        late = subprocess.run([sys.executable, "-m", "jupyter_dlbench.execution.runner", job,
                               "--workspace", str(ws.root)], capture_output=True, text=True, timeout=120)
        assert late.returncode == 3 and "nothing to run" in late.stderr, late.stderr
        final = scheduler.run_until_done([job])
    finally:
        scheduler.release()
    assert final[0].status == "finished", final[0].error
    assert len(dlb.runs()) == 1, "the job ran exactly once"
