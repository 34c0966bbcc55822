"""Sweep trials reuse one kernel (namespace reset between trials) unless asked not to.

Real runner processes, real kernels: the trials report their kernel's pid and whether anything
of the previous trial is still visible (a variable, an environment variable, the folder).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.sweeps import start_sweep

PROBE = (
    "import os, json, jupyter_dlbench as dlb\n"
    "leaks = [name for name in ('marker', 'helper') if name in globals()]\n"
    "if os.environ.get('DLB_TEST_LEAK'):\n"
    "    leaks.append('env')\n"
    "if os.getcwd() != START_DIR:\n"
    "    leaks.append('cwd')\n"
    "run = dlb.init()\n"
    "run.log({'pid': float(os.getpid()), 'leaks': float(len(leaks)), 'score': float(i)}, step=0)\n"
    "print(json.dumps({'pid': os.getpid(), 'leaks': leaks, 'run': run.id, 'i': i}))\n"
    "marker = i\n"
    "def helper():\n"
    "    return i\n"
    "os.environ['DLB_TEST_LEAK'] = str(i)\n"
    "os.chdir('..')"
)


def _probe(job_dir: Path) -> dict:
    nb = nbformat.read(job_dir / "output.ipynb", as_version=4)
    printed = [o["text"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.get("name") == "stdout" and o["text"].startswith("{")]
    assert len(printed) == 1, printed
    return json.loads(printed[0])


def _sweep(tmp_path: Path, make_notebook, n: int, **kw) -> tuple[list[dict], list[dict]]:
    nb = make_notebook("probe.ipynb", "i = 0", f"START_DIR = {str(tmp_path)!r}", PROBE)
    sweep = start_sweep(None, nb, [f"i={','.join(str(k) for k in range(n))}"], concurrency=1,
                        objective="score:max", background=False, **kw)
    trials = sweep.trials()
    assert [t["status"] for t in trials] == ["finished"] * n, [t["error"] for t in trials]
    store = JobStore(Workspace.find())
    return trials, [_probe(store.dir(t["job_id"])) for t in trials]


def test_trials_share_one_kernel_yet_each_has_its_own_params_run_and_notebook(
        workspace_dir: Path, tmp_path: Path, make_notebook) -> None:
    trials, probes = _sweep(tmp_path, make_notebook, 3)
    assert len({p["pid"] for p in probes}) == 1, "one kernel process served every trial"
    assert [p["leaks"] for p in probes] == [[], [], []], "nothing of a trial is visible to the next"
    assert [p["i"] for p in probes] == [0, 1, 2], "each trial got its own injected parameters"
    runs = [t["run_id"] for t in trials]
    assert len(set(runs)) == 3 and [p["run"] for p in probes] == runs, "dlb.init() attached to the trial's run"
    for t in trials:
        info = dlb.run_info(t["run_id"])
        assert info["status"] == "finished"
        assert info["params"]["i"] == t["params"]["i"]
        assert info["metrics"]["score"]["last"] == t["params"]["i"]
        assert "output.ipynb" in {a["path"] for a in info["artifacts"]}
    store = JobStore(Workspace.find())
    first = nbformat.read(store.dir(trials[2]["job_id"]) / "output.ipynb", as_version=4)
    counts = [c.execution_count for c in first.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), "a reused kernel numbers cells from 1 again"


@pytest.mark.slow
def test_fresh_kernel_gives_every_trial_its_own_kernel(workspace_dir: Path, tmp_path: Path,
                                                       make_notebook) -> None:
    _, probes = _sweep(tmp_path, make_notebook, 2, fresh_kernel=True)
    assert len({p["pid"] for p in probes}) == 2
    assert [p["leaks"] for p in probes] == [[], []]


@pytest.mark.slow
def test_a_failed_trial_replaces_the_kernel(workspace_dir: Path, tmp_path: Path, make_notebook) -> None:
    nb = make_notebook("flaky.ipynb", "i = 0",
                       "import os\nprint('PID', os.getpid())\nif i == 1:\n    raise ValueError('bad trial')")
    sweep = start_sweep(None, nb, ["i=0,1,2"], concurrency=1, objective=None, background=False)
    trials = sweep.trials()
    assert [t["status"] for t in trials] == ["finished", "failed", "finished"]
    assert "ValueError: bad trial" in trials[1]["error"]
    store = JobStore(Workspace.find())
    pids = [(store.dir(t["job_id"]) / "job.log").read_text().split("PID ")[1].split()[0] for t in trials]
    assert pids[0] == pids[1], "the failing trial ran on the kept kernel"
    assert pids[2] != pids[1], "the trial after a failure gets a fresh kernel"
