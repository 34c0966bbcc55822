"""Real sweeps: papermill kernels, runner processes, run journals, Optuna's study on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.sweeps import load_sweep, parse_spec, start_sweep

LOGS_SCORE = (
    "import jupyter_dlbench as dlb\n"
    "run = dlb.init()\n"
    "for i in range(3):\n"
    "    run.log({'val_acc': lr * batch + i}, step=i)"
)


def test_grid_sweep_finishes_one_run_per_grid_point(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("train.ipynb", "lr = 0.1\nbatch = 8", LOGS_SCORE)
    sweep = dlb.sweep(str(nb), {"lr": [0.1, 0.2], "batch": [8, 16]}, concurrency=2, wait=True)
    trials = sweep.trials()
    assert [t["status"] for t in trials] == ["finished"] * 4, [t["error"] for t in trials]
    assert [t["params"] for t in trials] == [{"lr": 0.1, "batch": 8}, {"lr": 0.1, "batch": 16},
                                             {"lr": 0.2, "batch": 8}, {"lr": 0.2, "batch": 16}]
    runs = dlb.runs()
    ours = runs[runs["run_id"].isin(sweep.runs)]
    assert len(ours) == 4 and set(ours["status"]) == {"finished"}
    assert {(r["params.lr"], r["params.batch"]) for _, r in ours.iterrows()} == {
        (0.1, 8), (0.1, 16), (0.2, 8), (0.2, 16)}
    # the objective is the last logged value; the best trial is the highest
    assert [t["objective"] for t in trials] == pytest.approx([2.8, 3.6, 3.6, 5.2])
    assert sweep.best["params"] == {"lr": 0.2, "batch": 16}
    table = sweep.table()
    assert list(table.columns[:4]) == ["trial", "lr", "batch", "status"] and len(table) == 4
    store = JobStore(Workspace.find())
    assert {store.load(t["job_id"]).spec.sweep_id for t in trials} == {sweep.id}
    assert sweep.done and sweep.status == "finished"
    again = load_sweep(Workspace.find(), sweep.id[:12])
    assert again.done and again.best["run_id"] == sweep.best["run_id"]


PRUNABLE = (
    "import time, jupyter_dlbench as dlb\n"
    "run = dlb.init()\n"
    "bad = quality < 0.5\n"
    "for i in range(60):\n"
    "    run.log({'val_acc': quality + i / 1000}, step=i)\n"
    "    time.sleep(0.3 if bad else 0.001)"
)


def test_median_early_stop_prunes_the_clearly_bad_trial(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("train.ipynb", "quality = 0.9", PRUNABLE)
    t0 = time.monotonic()
    sweep = start_sweep(None, nb, parse_spec(["quality=0.9,0.8,0.1"]), concurrency=2,
                        objective="val_acc:max", early_stop="median")
    sweep.wait(timeout=180, progress=False)
    trials = sweep.trials()
    assert [t["status"] for t in trials] == ["finished", "finished", "pruned"], trials
    bad = trials[2]
    assert "median rule" in bad["error"] and bad["steps"] < 60, "stopped before its 60 steps"
    assert time.monotonic() - t0 < 170
    job = JobStore(Workspace.find()).load(bad["job_id"])
    assert job.status == "pruned"
    info = dlb.run_info(bad["run_id"])
    assert info["status"] == "pruned", "a pruned run is not failed"
    assert sweep.status == "finished" and sweep.best["params"] == {"quality": 0.9}


def test_tpe_study_survives_its_driver_dying(workspace_dir: Path, make_notebook, tmp_path: Path) -> None:
    """A kernel restart mid-sweep: load_sweep(...).wait() resumes the Optuna study."""
    # each trial takes 2 s: with warm kernels a bare trial ends in ~0.2 s, and the whole sweep
    # could finish before the driver is killed "mid-sweep"
    nb = make_notebook("quad.ipynb", "x = 0.5",
                       "import time\nimport jupyter_dlbench as dlb\nrun = dlb.init()\ntime.sleep(2)\n"
                       "run.log({'score': -(x - 0.3) ** 2}, step=0)")
    code = f"""
        import os, time
        from jupyter_dlbench.sweeps import parse_spec, start_sweep
        s = start_sweep(None, {str(nb)!r}, parse_spec(["x=0..1"], method="tpe", max_runs=4, seed=3),
                        concurrency=2, objective="score:max")
        print(s.id, flush=True)
        deadline = time.time() + 120
        while sum(t["status"] == "finished" for t in s.trials()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        os._exit(0)  # the driver thread dies with its process, as with a kernel restart
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=180, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    sweep_id = done.stdout.split()[0]
    ws = Workspace.find()
    sweep = load_sweep(ws, sweep_id)
    assert not sweep.driving() and sum(t["status"] == "finished" for t in sweep.trials()) >= 2
    assert sweep.status == "paused"
    sweep.wait(timeout=150, progress=False)
    trials = sweep.trials()
    assert [t["status"] for t in trials] == ["finished"] * 4, [t["error"] for t in trials]
    for t in trials:
        assert 0 <= t["params"]["x"] <= 1
        assert t["objective"] == pytest.approx(-(t["params"]["x"] - 0.3) ** 2)
    import optuna

    study = optuna.load_study(study_name=sweep_id, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(ws.root / "sweeps" / sweep_id / "study.optuna.log"))))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4
    assert sorted(t.value for t in complete) == pytest.approx(sorted(t["objective"] for t in trials))
    assert study.best_value == pytest.approx(sweep.best["objective"])


def dlbench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=timeout)


def test_cli_dry_run_shows_reproducible_trials_and_runs_nothing(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("train.ipynb", "lr = 0.1\nbatch = 8", LOGS_SCORE)
    args = ["sweep", str(nb), "lr=1e-3..1e-1:log", "batch=8,16", "--random", "5", "--seed", "1",
            "--dry-run", "--json"]
    first, again = dlbench(*args), dlbench(*args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == json.loads(again.stdout)
    trials = json.loads(first.stdout)["trials"]
    assert len(trials) == 5 and all(t["batch"] in (8, 16) for t in trials)
    assert not (workspace_dir / "jobs").exists() or not os.listdir(workspace_dir / "jobs")
    bad = dlbench("sweep", str(nb), "lr=1e-3..1e-1:log", "--dry-run")
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("dlbench: error: sweep spec 'lr=1e-3..1e-1:log': a range cannot be "
                                  "gridded; use --random N or --method tpe (or list the values: name=a,b,c)")


def test_cli_sweep_runs_lists_and_reports_a_failed_trial(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("train.ipynb", "lr = 0.1\nbatch = 8", "assert lr > 0, 'lr must be positive'", LOGS_SCORE)
    done = dlbench("sweep", str(nb), "lr=0.5,1.5,-1", "--concurrency", "3", "--name", "cli-grid", "--json")
    assert done.returncode == 1, "a failed trial fails the command"
    out = json.loads(done.stdout)
    assert out["status"] == "finished"
    assert [t["status"] for t in out["trials"]] == ["finished", "finished", "failed"]
    assert "AssertionError: lr must be positive" in out["trials"][2]["error"]
    assert out["best"]["params"] == {"lr": 1.5}
    listed = json.loads(dlbench("sweeps", "ls", "--json").stdout)
    assert [(s["name"], s["status"]) for s in listed] == [("cli-grid", "finished")]
    shown = json.loads(dlbench("sweeps", "show", "cli-grid", "--json").stdout)
    assert shown["sweep_id"] == out["sweep_id"]
    missing = dlbench("sweeps", "show", "nope")
    assert missing.returncode == 2 and "no sweep matches 'nope'" in missing.stderr


def test_cancel_stops_queued_and_running_trials(workspace_dir: Path, make_notebook) -> None:
    nb = make_notebook("slow.ipynb", "n = 1", "import time\ntime.sleep(60)")
    started = dlbench("sweep", str(nb), "n=1,2,3", "--concurrency", "2", "--no-wait")
    assert started.returncode == 0, started.stderr
    sweep_id = started.stdout.split()[0]
    sweep = load_sweep(Workspace.find(), sweep_id)
    deadline = time.monotonic() + 90
    while not any(t["status"] == "running" and t["run_id"] for t in sweep.trials()):
        assert time.monotonic() < deadline, sweep.trials()
        time.sleep(0.3)
    # the background driver dies (as with a reboot): the sweep is paused, and cancel still works
    lock = Workspace.find().root / "sweeps" / sweep_id / "driver.lock"
    os.kill(int(lock.read_text().split()[1]), signal.SIGKILL)
    while sweep.driving():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert [s["status"] for s in json.loads(dlbench("sweeps", "ls", "--json").stdout)] == ["paused"]
    cancelled = dlbench("sweeps", "cancel", sweep_id)
    assert cancelled.returncode == 0, cancelled.stderr
    while not sweep.done:
        assert time.monotonic() < deadline, sweep.trials()
        time.sleep(0.3)
    assert len(sweep.trials()) == 2, "no trial starts after a cancel"
    assert {t["status"] for t in sweep.trials()} == {"cancelled"}
    assert sweep.status == "cancelled"
