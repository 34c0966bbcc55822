"""``dlbench worker`` SIGKILLed with one job running and one queued: both can still be cancelled
while no worker runs and after the restart — the running one by its own runner, the queued one
without ever starting — and a job submitted afterwards runs exactly once.

(tests/execution/test_scheduler_restart.py covers adoption of the running job, the queued job
running after the restart, and a runner that died while no worker ran.)
"""

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
from tests.execution.conftest import write_notebook


def _worker() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jupyter_dlbench.cli", "worker", "--concurrency", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def _wait(predicate, timeout: float = 120, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=120)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_jobs_of_a_killed_worker_can_be_cancelled_before_and_after_its_restart(
        workspace_dir: Path, tmp_path: Path) -> None:
    sleeper = write_notebook(tmp_path / "sleep.ipynb", "seconds = 1.0",
                             "import time\ntime.sleep(seconds)")
    ws = Workspace.find()
    store = JobStore(ws)
    running = submit_notebook(ws, sleeper, {"seconds": 300.0}).job_id
    queued = submit_notebook(ws, sleeper, {"seconds": 300.0}).job_id
    first = _worker()
    _wait(lambda: store.load(running).status == "running" and store.load(running).run_id,
          what="the first job to run")
    first.send_signal(signal.SIGKILL)
    first.wait()
    runner = store.load(running).pid

    # no worker now: the running job's own runner honours the cancel
    assert _cli("jobs", "cancel", running).returncode == 0
    _wait(lambda: store.load(running).terminal, timeout=60, what="the orphaned job to cancel")
    _wait(lambda: _gone(runner), timeout=30, what="its runner to exit")
    assert _cli("jobs", "cancel", queued).returncode == 0

    later = submit_notebook(ws, sleeper, {"seconds": 0.2}).job_id
    second = _worker()
    try:
        _wait(lambda: store.load(queued).terminal and store.load(later).terminal, timeout=180,
              what="the restarted worker to settle the queue")
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
    states = {j: store.load(j) for j in (running, queued, later)}
    assert states[running].status == "cancelled" and states[running].attempt == 1
    assert states[queued].status == "cancelled" and states[queued].run_id is None, "it never started"
    assert states[later].status == "finished" and states[later].attempt == 1, "run exactly once"
    assert dlb.run_info(states[running].run_id)["status"] == "cancelled"
    assert sorted(dlb.runs()["status"]) == ["cancelled", "finished"], "one run per started job"
    again = _cli("jobs", "cancel", running)
    assert again.returncode == 2 and "already cancelled" in again.stderr
