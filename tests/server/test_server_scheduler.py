"""The embedded default: a running Jupyter server schedules queued jobs itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import nbformat

from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace


async def test_a_queued_job_runs_while_the_server_is_up(api: Any, workspace_dir: Path,
                                                        tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(x * 3)")]
    path = tmp_path / "job.ipynb"
    nbformat.write(nb, path)
    ws = Workspace.find()
    job = submit_notebook(ws, path, {"x": 5})
    store = JobStore(ws)
    deadline = time.time() + 120
    while not store.load(job.job_id).terminal:
        assert time.time() < deadline, "the server's scheduler never finished the job"
        await asyncio.sleep(0.5)
    state = store.load(job.job_id)
    assert state.status == "finished", state.error
    status, body = await api.get(f"/dlbench/api/runs/{state.run_id}")
    assert status == 200 and body["params"]["x"] == 5 and body["status"] == "finished"
