"""Jobs submitted over REST really run: the server's scheduler executes them with papermill."""

from __future__ import annotations

import asyncio
import time
from typing import Any

JOBS = "/dlbench/api/jobs"


async def wait_for(api: Any, job_id: str, statuses: tuple[str, ...], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, job = await api.get(f"{JOBS}/{job_id}")
        assert status == 200
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job stayed {job['status']}: {job}"
        await asyncio.sleep(0.3)


async def test_a_submitted_notebook_runs_to_finished_with_its_params_and_logs(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook(
        "nbs/tiny.ipynb", "x = 1\nword = 'a'",
        "import jupyter_dlbench as dlb\nrun = dlb.init()\nrun.log({'y': x * 3}, step=0)\n"
        "print('computed', x * 3, word)\nrun.finish()",
    )
    status, body = await api.post(JOBS, {"notebook": rel, "params": {"x": "5", "word": "hé"}})
    assert status == 201
    job_id = body["jobs"][0]["job_id"]
    job = await wait_for(api, job_id, ("finished", "failed", "lost", "cancelled"))
    assert job["status"] == "finished", job["error"]
    assert job["run_id"] and job["ended_at"] >= job["started_at"]

    _, run = await api.get(f"/dlbench/api/runs/{job['run_id']}")
    assert run["params"]["x"] == 5 and run["params"]["word"] == "hé"
    assert run["metrics"]["y"]["last"] == 15

    _, log = await api.get(f"{JOBS}/{job_id}/logs")
    assert log["complete"] is True and log["next_offset"] == log["size"] > 0
    assert "computed 15 hé" in log["text"]


async def test_delete_stops_a_running_job_and_it_ends_cancelled(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook(
        "slow.ipynb", "seconds = 120",
        "import time\nprint('sleeping', flush=True)\ntime.sleep(seconds)",
    )
    _, body = await api.post(JOBS, {"notebook": rel})
    job_id = body["jobs"][0]["job_id"]
    await wait_for(api, job_id, ("running",))
    started = time.monotonic()
    status, job = await api.delete(f"{JOBS}/{job_id}")
    assert status == 202 and job["cancel_requested"] is True
    job = await wait_for(api, job_id, ("cancelled", "failed", "finished", "lost"), timeout=60)
    assert job["status"] == "cancelled"
    assert time.monotonic() - started < 60  # the 120 s sleep was cut short
    status, body = await api.delete(f"{JOBS}/{job_id}")
    assert status == 409 and body["code"] == "job_state"


async def test_a_two_value_sweep_submitted_over_rest_runs_two_jobs(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook(
        "sweep.ipynb", "lr = 0.1\nbatch = 16",
        "import jupyter_dlbench as dlb\nrun = dlb.init()\nrun.log({'val_acc': lr * batch})\n"
        "run.finish()",
    )
    status, body = await api.post(JOBS, {"notebook": rel, "sweep": "lr=0.5,0.25",
                                         "params": {"batch": 4}, "concurrency": 2})
    assert status == 201 and body["sweep_id"]
    sweep_id = body["sweep_id"]
    deadline = time.monotonic() + 120
    while True:
        _, listing = await api.get(JOBS)
        jobs = [j for j in listing["jobs"] if j["sweep_id"] == sweep_id]
        if len(jobs) == 2 and all(j["status"] == "finished" for j in jobs):
            break
        assert not any(j["status"] in ("failed", "lost") for j in jobs), jobs
        assert time.monotonic() < deadline, jobs
        await asyncio.sleep(0.5)
    assert sorted(j["params"]["lr"] for j in jobs) == [0.25, 0.5]
    assert {j["params"]["batch"] for j in jobs} == {4}
    for job in jobs:
        _, run = await api.get(f"/dlbench/api/runs/{job['run_id']}")
        assert run["metrics"]["val_acc"]["last"] == job["params"]["lr"] * 4
