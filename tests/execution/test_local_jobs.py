"""Notebook jobs on the local executor: real papermill kernels, real runner processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.execution.scheduler import LocalScheduler
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace

TRACKED = (
    "import os, time, json, jupyter_dlbench as dlb\n"
    "run = dlb.init()\n"
    "run.log({'y': x * 2.0}, step=0)\n"
    "print('CUDA', os.environ.get('CUDA_VISIBLE_DEVICES'))"
)


def dlbench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=timeout)


def test_run_wait_executes_notebook_and_records_a_finished_run(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("train.ipynb", "x = 1\nname = 'a'", TRACKED)
    done = dlbench("run", str(nb), "-p", "x", "21", "--wait")
    assert done.returncode == 0, done.stderr + done.stdout
    job_id = done.stdout.splitlines()[0]
    job = JobStore(Workspace.find()).load(job_id)
    assert job.status == "finished" and job.run_id
    info = dlb.run_info(job.run_id)
    assert info["status"] == "finished"
    assert info["params"]["x"] == 21 and info["params"]["name"] == "a"
    assert info["metrics"]["y"]["last"] == 42.0
    assert info["job_id"] == job_id and info["executor"] == "local"
    assert info["queue_wait_s"] is not None and info["queue_wait_s"] >= 0
    paths = {a["path"] for a in info["artifacts"]}
    assert {"output.ipynb", "job.log"} <= paths
    out = nbformat.read(JobStore(Workspace.find()).dir(job_id) / "output.ipynb", as_version=4)
    assert out.cells[0].cell_type == "markdown" and job.run_id in out.cells[0].source
    assert "| x | 21 |" in out.cells[0].source


def test_job_without_dlb_init_still_has_a_run(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("plain.ipynb", "x = 1", "print(x + 1)")
    done = dlbench("run", str(nb), "--wait")
    assert done.returncode == 0, done.stderr
    runs = dlb.runs()
    assert len(runs) == 1 and runs["status"][0] == "finished"
    assert runs["params.x"][0] == 1


def test_failing_cell_fails_the_job_naming_the_cell(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("boom.ipynb", "x = 1", "y = 2", "1 / 0")
    done = dlbench("run", str(nb), "--wait")
    assert done.returncode == 1
    assert "ZeroDivisionError" in done.stdout and "'1 / 0'" in done.stdout
    info = dlb.run_info(dlb.runs()["run_id"][0])
    assert info["status"] == "failed" and "ZeroDivisionError" in info["error"]
    assert "output.ipynb" in {a["path"] for a in info["artifacts"]}, "partial output is kept"


def test_bad_params_are_refused_before_anything_runs(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("train.ipynb", "lr = 0.1\nepochs = 3", "pass")
    done = dlbench("run", str(nb), "-p", "lrr", "0.01")
    assert done.returncode == 2 and "lrr" in done.stderr and "lr" in done.stderr
    done = dlbench("run", str(nb), "-p", "epochs", "2.5")
    assert done.returncode == 2 and "epochs" in done.stderr
    bare = make_notebook("bare.ipynb", None, "pass")
    done = dlbench("run", str(bare))
    assert done.returncode == 2 and "parameters" in done.stderr
    assert dlbench("run", str(bare), "--no-parameters-cell").returncode == 0
    assert len(JobStore(Workspace.find()).all()) == 1, "refused submissions leave no job behind"


INTERVAL = (
    "import os, time, json\n"
    "start = time.time()\n"
    "time.sleep(hold)\n"
    "open(out, 'a').write(json.dumps({'i': i, 'cvd': os.environ.get('CUDA_VISIBLE_DEVICES'), "
    "'start': start, 'end': time.time()}) + '\\n')"
)


def _max_overlap(rows: list[dict]) -> int:
    events = sorted([(r["start"], 1) for r in rows] + [(r["end"], -1) for r in rows])
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


@pytest.mark.slow
def test_whole_gpu_jobs_run_two_at_a_time_on_two_logical_gpus(workspace_dir: Path, make_notebook,
                                                               tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DLBENCH_GPUS", "2")
    out = tmp_path / "intervals.jsonl"
    nb = make_notebook("hold.ipynb", f"i = 0\nhold = 2.0\nout = {str(out)!r}", INTERVAL)
    ws = Workspace.find()
    ids = [submit_notebook(ws, nb, {"i": i}, gpus=1).job_id for i in range(6)]
    scheduler = LocalScheduler(ws, concurrency=6)
    assert scheduler.acquire()
    try:
        final = scheduler.run_until_done(ids)
    finally:
        scheduler.release()
    assert [s.status for s in final] == ["finished"] * 6
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["i"] for r in rows) == list(range(6))
    assert {r["cvd"] for r in rows} == {"0", "1"}
    assert _max_overlap(rows) == 2, "never more than one job per GPU, and both GPUs used at once"
    for a in rows:
        for b in rows:
            if a is not b and a["start"] < b["end"] and b["start"] < a["end"]:
                assert a["cvd"] != b["cvd"], "overlapping jobs got the same GPU"


@pytest.mark.slow
def test_quarter_gpu_jobs_pack_four_per_gpu_and_a_ninth_waits(workspace_dir: Path, make_notebook,
                                                              tmp_path: Path, monkeypatch) -> None:
    """Placement is judged from the scheduler's own record (when it started each job, on which
    GPU), not from kernels racing each other: on two cores, eight kernels may take minutes to
    come up, and that is no fault of the packing."""
    monkeypatch.setenv("DLBENCH_GPUS", "2")
    seen = tmp_path / "seen"
    seen.mkdir()
    nb = make_notebook("pack.ipynb", f"i = 0\nseen = {str(seen)!r}",
                       "import os, time\n"
                       "open(os.path.join(seen, str(i)), 'w').write(os.environ['CUDA_VISIBLE_DEVICES'])\n"
                       "time.sleep(1)")
    ws = Workspace.find()
    ids = [submit_notebook(ws, nb, {"i": i}, gpus=0.25).job_id for i in range(9)]
    scheduler = LocalScheduler(ws, concurrency=9)
    assert scheduler.acquire()
    try:
        final = scheduler.run_until_done(ids)
    finally:
        scheduler.release()
    assert [s.status for s in final] == ["finished"] * 9, [s.error for s in final]
    by_start = sorted(final, key=lambda s: s.started_at)
    first_end = min(s.ended_at for s in final)
    packed, ninth = by_start[:8], by_start[8]
    assert all(s.started_at < first_end for s in packed), "eight quarter jobs placed at once"
    assert ninth.started_at >= first_end, "a ninth quarter job waits for a slot: no oversubscription"
    assert sorted(s.gpu_ids[0] for s in packed) == ["0"] * 4 + ["1"] * 4, "four per GPU"
    for s in final:
        i = s.spec.params["i"]
        assert (seen / str(i)).read_text() == ",".join(s.gpu_ids), "the kernel saw its GPU"


def test_cancel_a_queued_and_a_running_job(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("slow.ipynb", "x = 1", "import time\ntime.sleep(120)")
    ws = Workspace.find()
    store = JobStore(ws)
    running = submit_notebook(ws, nb, {}).job_id
    queued = submit_notebook(ws, nb, {}).job_id
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        deadline = time.time() + 120
        while store.load(running).status != "running" or not store.load(running).run_id:
            scheduler.step()
            assert time.time() < deadline
            time.sleep(0.2)
        time.sleep(3)  # the kernel is executing the sleep cell now
        assert dlbench("jobs", "cancel", queued).returncode == 0
        assert dlbench("jobs", "cancel", running[:-1]).returncode == 0
        t0 = time.time()
        final = scheduler.run_until_done([running, queued])
    finally:
        scheduler.release()
    assert time.time() - t0 < 60
    states = {s.job_id: s for s in final}
    assert states[queued].status == "cancelled" and states[queued].run_id is None
    assert states[running].status == "cancelled"
    assert dlb.run_info(states[running].run_id)["status"] == "cancelled"
    again = dlbench("jobs", "cancel", running)
    assert again.returncode == 2 and "already cancelled" in again.stderr


def test_kernel_death_fails_the_job_and_the_next_job_starts(workspace_dir: Path, make_notebook) -> None:
    dying = make_notebook("die.ipynb", "x = 1", "import jupyter_dlbench as dlb\nrun = dlb.init()\n"
                          "run.log({'a': 1.0})", "import os\nos._exit(7)")
    fine = make_notebook("fine.ipynb", "x = 1", "print('ok')")
    ws = Workspace.find()
    a = submit_notebook(ws, dying, {}).job_id
    b = submit_notebook(ws, fine, {}).job_id
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        final = {s.job_id: s for s in scheduler.run_until_done([a, b])}
    finally:
        scheduler.release()
    assert final[a].status == "failed" and "kernel died" in final[a].error
    assert final[b].status == "finished"
    info = dlb.run_info(final[a].run_id)
    assert info["status"] == "crashed" and info["metrics"]["a"]["last"] == 1.0


def _kernel_that_dies_at_start(tmp_path: Path, name: str, deaths: int) -> Path:
    """A kernelspec whose first ``deaths`` starts exit before answering (as a kernel that lost
    a port race does); later starts are ordinary ipykernels. Returns the start counter file."""
    counter = tmp_path / f"{name}.starts"
    launcher = tmp_path / f"{name}_launcher.py"
    launcher.write_text(
        "import pathlib, runpy, sys\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "n = int(counter.read_text()) if counter.exists() else 0\n"
        "counter.write_text(str(n + 1))\n"
        f"if n < {deaths}:\n"
        "    sys.exit(1)\n"
        "sys.argv = ['ipykernel_launcher', *sys.argv[1:]]\n"
        "runpy.run_module('ipykernel_launcher', run_name='__main__')\n")
    spec_dir = tmp_path / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(launcher), "-f", "{connection_file}"],
        "display_name": name, "language": "python"}))
    return counter


def test_a_kernel_that_dies_before_answering_is_started_again(workspace_dir: Path, make_notebook,
                                                              tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    once = _kernel_that_dies_at_start(tmp_path, "dies-once", deaths=1)
    always = _kernel_that_dies_at_start(tmp_path, "dies-always", deaths=99)
    nb = make_notebook("k.ipynb", "x = 1", TRACKED)
    ws = Workspace.find()
    recovered = submit_notebook(ws, nb, {"x": 5}, kernel_name="dies-once").job_id
    hopeless = submit_notebook(ws, nb, {"x": 5}, kernel_name="dies-always").job_id
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        final = {s.job_id: s for s in scheduler.run_until_done([recovered, hopeless])}
    finally:
        scheduler.release()
    assert final[recovered].status == "finished", final[recovered].error
    assert dlb.run_info(final[recovered].run_id)["metrics"]["y"]["last"] == 10.0
    assert once.read_text() == "2"
    assert final[hopeless].status == "failed"
    assert "Kernel died before replying to kernel_info" in final[hopeless].error
    assert always.read_text() == "3", "three starts, then the job fails"
    log = (JobStore(ws).dir(recovered) / "job.log").read_text()
    assert "the kernel failed to start" in log


def test_killed_runner_is_lost_its_run_crashed_and_retried(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("slow.ipynb", "x = 1", "import time\ntime.sleep(120)")
    ws = Workspace.find()
    store = JobStore(ws)
    job = submit_notebook(ws, nb, {}, retries=1).job_id
    scheduler = LocalScheduler(ws, concurrency=1)
    assert scheduler.acquire()
    try:
        deadline = time.time() + 120
        while not (store.load(job).status == "running" and store.load(job).pid):
            scheduler.step()
            assert time.time() < deadline
            time.sleep(0.2)
        first = store.load(job)
        os.kill(first.pid, 9)
        while store.load(job).attempt < 2:
            scheduler.step()
            assert time.time() < deadline
            time.sleep(0.2)
        store.request_cancel(job)
        final = scheduler.run_until_done([job])
    finally:
        scheduler.release()
    assert final[0].attempt == 2, "lost once, retried once"
    assert dlb.run_info(first.run_id)["status"] == "crashed"
    assert final[0].status == "cancelled"


def test_rerun_reproduces_a_plain_papermill_run_from_its_snapshot(workspace_dir: Path, make_notebook,
                                                                  tmp_path: Path) -> None:
    nb = make_notebook("train.ipynb", "x = 1\nname = 'a'", TRACKED)
    done = subprocess.run([sys.executable, "-m", "papermill", str(nb), str(tmp_path / "out.ipynb"),
                           "-p", "x", "4", "-k", "python3"], capture_output=True, text=True,
                          env=os.environ.copy(), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    original = dlb.runs()
    assert len(original) == 1 and original["params.x"][0] == 4
    nb.write_text("this file changed since; the rerun must use the stored snapshot")
    rerun = dlbench("rerun", original["run_id"][0], "-p", "name", "b", "--wait")
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    runs = dlb.runs().sort_values("started_at")
    assert len(runs) == 2
    again = runs.iloc[-1]
    assert again["params.x"] == 4 and again["params.name"] == "b" and again["metrics.y"] == 8.0


def test_batch_runs_several_notebooks_as_jobs(workspace_dir: Path, make_notebook) -> None:
    a = make_notebook("a.ipynb", "x = 1", TRACKED)
    b = make_notebook("b.ipynb", "x = 2", TRACKED)
    done = dlbench("batch", str(a), str(b), "-p", "x", "3", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(dlb.runs()["metrics.y"]) == [6.0, 6.0]
    assert sorted(dlb.runs()["name"]) == ["a", "b"]


def test_resources_show_gpus_holders_and_queue(workspace_dir: Path, make_notebook, monkeypatch) -> None:
    monkeypatch.setenv("DLBENCH_GPUS", "2")
    nb = make_notebook("slow.ipynb", "x = 1", "import time\ntime.sleep(120)")
    ws = Workspace.find()
    store = JobStore(ws)
    held = submit_notebook(ws, nb, {}, gpus=0.5).job_id
    waiting = submit_notebook(ws, nb, {}, gpus=2).job_id
    scheduler = LocalScheduler(ws, concurrency=2)
    assert scheduler.acquire()
    try:
        scheduler.step()
        done = dlbench("resources", "--json")
        report = json.loads(done.stdout)
        assert report["gpus"][0]["holders"] == [[held, 0.5]] and report["gpus"][0]["free"] == 0.5
        assert report["gpus"][1]["free"] == 1.0
        assert report["queued"] == [waiting], "a 2-GPU job waits while a GPU is partly held"
        logs = dlbench("jobs", "logs", held)
        assert logs.returncode == 0
        for job in (held, waiting):
            store.request_cancel(job)
        scheduler.run_until_done([held, waiting])
    finally:
        scheduler.release()


def test_the_notebooks_project_files_a_job_run_unless_the_job_named_one(workspace_dir: Path,
                                                                        make_notebook) -> None:
    nb = make_notebook("proj.ipynb", "x = 1",
                       "import jupyter_dlbench as dlb\nrun = dlb.init(project='digits')\nrun.log({'x': 1.0})")
    ws = Workspace.find()
    plain = submit_notebook(ws, nb, {}).job_id
    named = submit_notebook(ws, nb, {}, project="chosen").job_id
    scheduler = LocalScheduler(ws, concurrency=2)
    assert scheduler.acquire()
    try:
        final = scheduler.run_until_done([plain, named])
    finally:
        scheduler.release()
    assert [s.status for s in final] == ["finished", "finished"], [s.error for s in final]
    run_of = {s.job_id: s.run_id for s in final}
    assert dlb.run_info(run_of[plain])["project"] == "digits"
    assert dlb.run_info(run_of[named])["project"] == "chosen"
    assert list(dlb.runs(project="digits")["run_id"]) == [run_of[plain]]
