"""A Ray head that jupyter-dlbench starts itself (``--ray-address local``) listens on loopback
only: other machines cannot reach it, so they cannot submit work to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace
from tests.execution.conftest import write_notebook

pytest.importorskip("ray")

# run inside the job: every socket listened on by the job's runner (the Ray driver that
# started the head) and all it started (GCS, raylet, agents, workers, this kernel)
LISTENERS = (
    "import json, psutil\n"
    "p = psutil.Process()\n"
    "while p is not None and 'jupyter_dlbench.execution.runner' not in ' '.join(p.cmdline()):\n"
    "    p = p.parent()\n"
    "procs = [p, *p.children(recursive=True)]\n"
    "seen = set()\n"
    "for q in procs:\n"
    "    try:\n"
    "        seen.update((q.name(), c.laddr.ip, c.laddr.port) for c in q.net_connections('inet')\n"
    "                    if c.status == psutil.CONN_LISTEN)\n"
    "    except psutil.Error:\n"
    "        pass\n"
    "print(json.dumps({'processes': len(procs), 'listening': sorted(seen)}))\n"
)


@pytest.mark.slow
def test_a_ray_head_the_project_starts_listens_on_loopback_only(workspace_dir: Path, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "listeners.ipynb", "x = 0", LISTENERS)
    token_file = Path.home() / ".ray" / "auth_token"
    had_token_file = token_file.exists()
    ws = Workspace.find()
    job = submit_notebook(ws, nb, {}, executor="ray", ray_address="local").job_id
    scheduler = LocalScheduler(ws)
    assert scheduler.acquire()
    try:
        [final] = scheduler.run_until_done([job])
    finally:
        scheduler.release()
    assert final.status == "finished", final.error
    out = json.loads((JobStore(ws).dir(job) / "output.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", [])
                      if o.get("name") == "stdout")
    found = json.loads(printed.strip().splitlines()[-1])
    names = {name for name, _, _ in found["listening"]}
    assert {"gcs_server", "raylet"} <= names, found  # the head's own listeners were seen
    loopback = ("127.0.0.1", "::1", "::ffff:127.0.0.1")  # the last: IPv4 loopback on an IPv6 socket
    outside = [(n, ip, port) for n, ip, port in found["listening"] if ip not in loopback]
    assert outside == [], f"listening beyond loopback: {outside}"
    # Ray's default for a new local head writes ~/.ray/auth_token, which every later
    # `ray start --head` of this user then enforces; our head keeps its token to itself
    assert had_token_file or not token_file.exists(), "the job left ~/.ray/auth_token behind"
