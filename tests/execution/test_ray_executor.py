"""The Ray executor against a real Ray head on 127.0.0.1 with two logical GPUs."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace
from tests.reliability.helpers import RayHead

pytest.importorskip("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head():
    """`ray start --head --num-gpus=2` on loopback (MACHINE-NOTES §5: the env var keeps Ray
    from advertising the machine's other address), stopped by process id: `ray stop` would end
    every Ray process on the machine."""
    temp = Path(tempfile.mkdtemp(prefix="dlb-ray-"))  # Unix socket paths must stay short
    head = RayHead(temp, num_cpus=4)
    try:
        yield head.address
    finally:
        head.kill()
        shutil.rmtree(temp, ignore_errors=True)


NOTEBOOK = (
    "import os, time, json, socket\n"
    "import jupyter_dlbench as dlb\n"
    "run = dlb.init()\n"
    "start = time.time()\n"
    "time.sleep(hold)\n"
    "run.log({'y': i * 10.0}, step=0)\n"
    "open('model.txt', 'w').write(f'model {i}')\n"
    "run.log_artifact('model.txt')\n"
    "print(json.dumps({'i': i, 'cvd': os.environ.get('CUDA_VISIBLE_DEVICES'), 'start': start, 'end': time.time()}))"
)


@pytest.mark.slow
def test_ray_places_whole_gpu_jobs_two_at_a_time_and_results_come_back(
        ray_head: str, workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("ray.ipynb", "i = 0\nhold = 3.0", NOTEBOOK)
    ws = Workspace.find()
    ids = [submit_notebook(ws, nb, {"i": i}, executor="ray", gpus=1, ray_address=ray_head).job_id
           for i in range(4)]
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        final = scheduler.run_until_done(ids)
    finally:
        scheduler.release()
    assert [s.status for s in final] == ["finished"] * 4, [s.error for s in final]
    rows = []
    store = JobStore(ws)
    for s in final:
        info = dlb.run_info(s.run_id)
        assert info["status"] == "finished" and info["executor"] == "ray"
        assert info["metrics"]["y"]["last"] == s.spec.params["i"] * 10.0, "the journal came back"
        arts = {a["path"]: a["oid"] for a in info["artifacts"]}
        assert ws.objects.read_bytes(arts["model.txt"]) == f"model {s.spec.params['i']}".encode()
        assert "output.ipynb" in arts
        out = json.loads((store.dir(s.job_id) / "output.ipynb").read_text())
        printed = [o for c in out["cells"] for o in c.get("outputs", []) if o.get("name") == "stdout"]
        rows.append(json.loads("".join(printed[-1]["text"]).strip().splitlines()[-1]))
        assert info["cuda_visible_devices"] in ("0", "1")
    assert {r["cvd"] for r in rows} <= {"0", "1"}
    events = sorted([(r["start"], 1) for r in rows] + [(r["end"], -1) for r in rows])
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    assert best <= 2, "Ray never runs more GPU jobs than GPUs"


@pytest.mark.slow
def test_ray_unreachable_fails_the_job_with_the_reason(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("ray.ipynb", "i = 0\nhold = 0.0", "pass")
    ws = Workspace.find()
    job = submit_notebook(ws, nb, {}, executor="ray", ray_address=f"127.0.0.1:{_free_port()}").job_id
    scheduler = LocalScheduler(ws)
    assert scheduler.acquire()
    t0 = time.time()
    try:
        final = scheduler.run_until_done([job])
    finally:
        scheduler.release()
    assert final[0].status == "failed"
    assert "cannot reach the Ray cluster" in final[0].error
    assert time.time() - t0 < 120


KILL_MY_WORKER = (
    "import os, signal\n"
    "if not os.path.exists(marker):\n"
    "    open(marker, 'w').write('killed once')\n"
    "    os.kill(os.getppid(), signal.SIGKILL)  # the Ray worker that runs papermill\n"
    "    import time; time.sleep(60)\n"
    "print('survived')"
)


@pytest.mark.slow
@pytest.mark.parametrize(("retries", "status"), [(1, "finished"), (0, "failed")])
def test_a_ray_worker_dying_mid_job_is_retried_or_reported(ray_head: str, workspace_dir: Path, make_notebook,
                                                           tmp_path: Path, retries: int, status: str) -> None:
    marker = tmp_path / f"marker-{retries}"
    nb = make_notebook(f"kill{retries}.ipynb", f"marker = {str(marker)!r}", KILL_MY_WORKER)
    ws = Workspace.find()
    job = submit_notebook(ws, nb, {}, executor="ray", retries=retries, ray_address=ray_head).job_id
    scheduler = LocalScheduler(ws)
    assert scheduler.acquire()
    try:
        final = scheduler.run_until_done([job])
    finally:
        scheduler.release()
    assert marker.exists(), "the worker was killed once"
    assert final[0].status == status, final[0].error
    if status == "failed":
        assert "Ray worker" in final[0].error and "died" in final[0].error


DATASET_NOTEBOOK = (
    "import os\n"
    "import jupyter_dlbench as dlb\n"
    "run = dlb.init()\n"
    "ds = dlb.dataset('toy', version)\n"
    "total = sum(len(open(ds.file(f), 'rb').read()) for f in ds.files)\n"
    "run.log({'bytes': float(total)}, step=0)\n"
    "os.makedirs('derived', exist_ok=True)\n"
    "open('derived/summary.txt', 'w').write(f'{ds.ref} {total}')\n"
    "out = dlb.log_dataset('toy-summary', 'derived', message='from ' + ds.ref)\n"
    "print(out.ref)"
)


@pytest.mark.slow
def test_a_ray_job_fetches_only_the_dataset_objects_its_node_lacks(
        ray_head: str, workspace_dir: Path, make_notebook, tmp_path: Path, monkeypatch) -> None:
    """The remote side sees no workspace: it gets versions through the job's object service,
    keeps them in the node's cache, and a second job on the node fetches nothing."""
    monkeypatch.setenv("DLBENCH_NODE_CACHE", str(tmp_path / "node-cache"))
    src = tmp_path / "toy"
    src.mkdir()
    for i in range(3):
        (src / f"part{i}.bin").write_bytes(bytes([i]) * (1000 + i))
    ws = Workspace.find()
    from jupyter_dlbench import data

    data.add(ws, "toy", src, message="three parts", progress=False)
    (src / "part2.bin").write_bytes(b"changed" * 100)
    data.add(ws, "toy", src, message="one part changed", progress=False)

    nb = make_notebook("uses_data.ipynb", "version = 'v1'", DATASET_NOTEBOOK)
    store = JobStore(ws)
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        states = []
        for version in ("v1", "v1", "v2"):  # one after another: the cache is warm for the next
            job = submit_notebook(ws, nb, {"version": version}, executor="ray", ray_address=ray_head)
            states += scheduler.run_until_done([job.job_id])
    finally:
        scheduler.release()
    assert [s.status for s in states] == ["finished"] * 3, [s.error for s in states]
    fetched = [store.load(s.job_id).transfer for s in states]
    assert [t["objects_fetched"] for t in fetched] == [3, 0, 1], fetched
    assert [t["objects_reused"] for t in fetched] == [0, 3, 2], fetched
    assert fetched[0]["bytes_fetched"] == 1000 + 1001 + 1002

    runs = [dlb.run_info(s.run_id) for s in states]
    assert [r["metrics"]["bytes"]["last"] for r in runs] == [3003.0, 3003.0, 1000 + 1001 + 700]
    assert [[(i["name"], i["version"]) for i in r["inputs"]] for r in runs] == \
        [[("toy", "v1")], [("toy", "v1")], [("toy", "v2")]]
    # the version a remote job produced is committed in the real workspace, run as producer
    with ws.catalog.session(write=True) as s:
        versions = data.list_versions(s, "toy-summary")
    assert [v.message for v in versions] == ["from toy@v1", "from toy@v2"]  # 2nd v1 job: unchanged
    assert versions[0].producer_run_id == states[0].run_id
    assert (Path(tmp_path / "node-cache") / "objects").is_dir()
