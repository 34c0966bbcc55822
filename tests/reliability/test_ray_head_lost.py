"""Losing the Ray cluster's head in the middle of a job: a real head on 127.0.0.1 (logical
GPUs), every process of it SIGKILLed by id while the notebook runs.

Ray itself would only notice after 60 s and then end the runner without a word; the job must
instead fail within seconds with a reason naming the lost cluster, its run must not stay
"running", and the points the notebook logged before must be kept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace
from tests.execution.conftest import write_notebook
from tests.reliability.helpers import RayHead

pytest.importorskip("ray")


NOTEBOOK = (
    "import os, time\n"
    "import jupyter_dlbench as dlb\n"
    "run = dlb.init()\n"
    "for i in range(5):\n"
    "    run.log({'loss': 1.0 / (i + 1)}, step=i)\n"
    "run.flush()\n"
    "time.sleep(2.0)  # the job ships its journal every 0.5 s\n"
    "open(marker, 'w').write('logged')\n"
    "parent, deadline = os.getppid(), time.time() + 240\n"
    "while os.getppid() == parent and time.time() < deadline:\n"
    "    time.sleep(0.2)\n"
    "os._exit(0)  # orphaned: the Ray worker that ran this notebook is gone\n"
)


@pytest.mark.slow
def test_losing_the_ray_head_mid_job_fails_the_job_naming_the_cluster_and_keeps_the_points(
        workspace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBENCH_RAY_LOST_AFTER", "2")  # the runner inherits it
    marker = tmp_path / "logged"
    nb = write_notebook(tmp_path / "train.ipynb", f"marker = {str(marker)!r}", NOTEBOOK)
    temp = Path(tempfile.mkdtemp(prefix="dlb-ray-"))  # Unix socket paths must stay short
    head = RayHead(temp)
    try:
        ws = Workspace.find()
        job = submit_notebook(ws, nb, {}, executor="ray", gpus=1, ray_address=head.address).job_id
        scheduler = LocalScheduler(ws)
        assert scheduler.acquire()
        try:
            deadline = time.monotonic() + 150
            while not marker.exists() and time.monotonic() < deadline:
                scheduler.step()
                time.sleep(0.3)
            assert marker.exists(), "the notebook never got to log its points"
            assert scheduler.store.load(job).status == "running"
            assert head.kill() >= 2, "the head's processes were not found"
            lost_at = time.monotonic()
            [final] = scheduler.run_until_done([job])
            took = time.monotonic() - lost_at
        finally:
            scheduler.release()
    finally:
        head.kill()
        shutil.rmtree(temp, ignore_errors=True)
    assert final.status == "failed", final.error
    assert final.error.startswith(f"lost the Ray cluster at '{head.address}'"), final.error
    assert took < 45, f"the job took {took:.0f} s to fail (Ray alone ends the runner at 60 s)"
    info = dlb.run_info(final.run_id)
    assert info["status"] == "failed" and "lost the Ray cluster" in info["error"]
    history = dlb.metrics(final.run_id, "loss")
    assert list(history["step"]) == [0, 1, 2, 3, 4], "the points logged before were lost"
    assert list(history["value"]) == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    shown = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "jobs", "show", job, "--json"],
                           capture_output=True, text=True, timeout=60, check=True)
    state = json.loads(shown.stdout)
    assert state["status"] == "failed" and "lost the Ray cluster" in state["error"]
    assert not list(ws.root.rglob("remote-journal-*.dlj")), "the shipped copy was left behind"
