"""A runner that finished a job takes the next queued one instead of exiting: one process, yet
each job keeps its own claim, GPUs, log, run and verdict, and a cancel still reaches it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace

SAYS = "import os\nprint('JOB', who, 'CUDA', os.environ.get('CUDA_VISIBLE_DEVICES'))"


def _gone(pid: int) -> bool:
    import psutil

    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_one_runner_runs_queued_jobs_in_turn_each_accounted_on_its_own(
        workspace_dir: Path, make_notebook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBENCH_AUTO_REPORT", "1")
    nb = make_notebook("says.ipynb", "who = 'a'", SAYS)
    ws = Workspace.find()
    store = JobStore(ws)
    a = submit_notebook(ws, nb, {"who": "a"}, gpus=1).job_id
    b = submit_notebook(ws, nb, {"who": "b"}, gpus=1).job_id
    # one GPU: b cannot start before a has given it back, even with two slots
    scheduler = LocalScheduler(ws, concurrency=2, gpu_ids=["0"])
    assert scheduler.acquire()
    try:
        final = {s.job_id: s for s in scheduler.run_until_done([a, b], poll=0.1)}
        assert scheduler.allocator.holders() == {"0": []}, "both jobs gave the GPU back"
        assert not scheduler.tracked
        runner = final[a].pid
    finally:
        scheduler.release()
    assert [final[j].status for j in (a, b)] == ["finished", "finished"]
    assert final[a].pid == final[b].pid, "the second job ran in the first job's runner"
    assert final[a].run_id != final[b].run_id
    assert final[b].started_at >= final[a].ended_at, "never two jobs on the one GPU"
    for job, who in ((a, "a"), (b, "b")):
        log = (store.dir(job) / "job.log").read_text()
        assert f"JOB {who} CUDA 0" in log, "each job's log holds its own output, on its GPU"
        assert f"JOB {'b' if who == 'a' else 'a'}" not in log
        assert not store.runner_alive(job)
        info = dlb.run_info(final[job].run_id)
        assert info["status"] == "finished" and info["params"]["who"] == who
    deadline = time.time() + 30
    while not _gone(runner):
        assert time.time() < deadline, "the runner exits once its scheduler lets it go"
        time.sleep(0.2)
    # the runner's one report writer wrote both runs' pages
    reports = [workspace_dir / "runs" / final[j].run_id / "report.html" for j in (a, b)]
    deadline = time.time() + 90
    while not all(r.exists() for r in reports):
        assert time.time() < deadline, "no report.html for the runs of a reused runner"
        time.sleep(0.5)


@pytest.mark.slow
def test_cancel_reaches_the_second_job_of_a_reused_runner(workspace_dir: Path, make_notebook) -> None:
    quick = make_notebook("quick.ipynb", "who = 'a'", SAYS)
    slow = make_notebook("slow.ipynb", "seconds = 1.0", "import time\ntime.sleep(seconds)")
    ws = Workspace.find()
    store = JobStore(ws)
    a = submit_notebook(ws, quick, {}).job_id
    b = submit_notebook(ws, slow, {"seconds": 120.0}).job_id
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        deadline = time.time() + 120
        while store.load(b).status != "running" or not store.load(b).run_id:
            scheduler.step()
            assert time.time() < deadline
            time.sleep(0.1)
        assert store.load(b).pid == store.load(a).pid
        time.sleep(2)  # the kernel is in the sleep cell
        store.request_cancel(b)
        t0 = time.time()
        final = {s.job_id: s for s in scheduler.run_until_done([a, b])}
    finally:
        scheduler.release()
    assert time.time() - t0 < 30
    assert final[a].status == "finished" and final[b].status == "cancelled"
    assert dlb.run_info(final[b].run_id)["status"] == "cancelled"
