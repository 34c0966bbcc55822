"""POST /dlbench/api/runs/{id}/rerun: the run's notebook snapshot again, params changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking.run import Run

RUNS = "/dlbench/api/runs"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["DlbenchServer"] = {"run_scheduler": False}
    return jp_server_config


@pytest.fixture
def notebook_run(make_notebook: Any, jp_root_dir: Path) -> tuple[str, Path]:
    """A finished run of a notebook (as a job records it: path, snapshot, params); the
    notebook file is edited afterwards, as a user would."""
    rel = make_notebook("train.ipynb", "lr = 0.1\nepochs = 2", "print(lr)")
    path = jp_root_dir / rel
    ws = Workspace.find()
    oid = ws.objects.put_file(path).oid
    run = Run.start(name="original", params={"lr": 0.01, "epochs": 3, "seed_used": 7},
                    workspace=ws, code=(str(path), "notebook"), snapshot_oid=oid, managed=True)
    run.finish()
    path.write_text(path.read_text().replace("lr = 0.1", "learning_rate = 0.1"))
    return run.id, path


async def test_rerun_queues_the_snapshot_with_the_runs_params(
    api: Any, notebook_run: tuple[str, Path]
) -> None:
    run_id, path = notebook_run
    status, body = await api.post(f"{RUNS}/{run_id}/rerun", {})
    assert status == 201
    [job] = body["jobs"]
    assert job["rerun_of"] == run_id and job["name"] == "original"
    # the run's params for the names the (snapshot's) parameters cell declares
    assert job["params"] == {"lr": 0.01, "epochs": 3}
    _, detail = await api.get(f"{RUNS}/{run_id}")
    assert job["snapshot_oid"] == detail["snapshot_oid"]  # what the run ran...
    assert job["snapshot_oid"] != Workspace.find().objects.put_file(path).oid  # not the edit
    assert JobStore(Workspace.find()).load(job["job_id"]).spec.snapshot_oid == job["snapshot_oid"]


async def test_rerun_with_changes_checks_them_against_the_snapshot(
    api: Any, notebook_run: tuple[str, Path]
) -> None:
    run_id, _ = notebook_run
    status, body = await api.post(f"{RUNS}/{run_id}/rerun",
                                  {"params": {"epochs": "5"}, "name": "longer"})
    assert status == 201
    assert body["jobs"][0]["params"] == {"lr": 0.01, "epochs": 5}
    assert body["jobs"][0]["name"] == "longer"
    # learning_rate exists only in the edited file, not in what the run ran
    status, body = await api.post(f"{RUNS}/{run_id}/rerun", {"params": {"learning_rate": 1}})
    assert status == 400 and body["field"] == "params.learning_rate"
    status, body = await api.post(f"{RUNS}/{run_id}/rerun", {"notebook": "x.ipynb"})
    assert status == 400 and body["field"] == "notebook"


async def test_a_run_that_was_not_a_notebook_cannot_be_rerun(
    api: Any, make_run: Any
) -> None:
    run_id = make_run()  # a run of this test process: a script, not a notebook
    status, body = await api.post(f"{RUNS}/{run_id}/rerun", {})
    # a script run: refused for what it lacks (pytest's entry point may or may not be snapshotted)
    assert status == 400 and ("only notebook runs can be rerun" in body["message"]
                              or "has no stored notebook snapshot" in body["message"]), body
    status, body = await api.post(f"{RUNS}/no-such-run/rerun", {})
    assert status == 404 and body["code"] == "run_not_found"
