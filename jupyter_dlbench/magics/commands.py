"""What each ``%dlbench`` subcommand does. The magic class only parses and dispatches."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import api
from ..errors import InvalidInput
from ..store import Workspace
from .current import notebook_argument

# set by the job runner in every dlbench job: a sweep's trial re-executes its notebook, and
# when that notebook is the one holding `%dlbench sweep`, each trial must not start a sweep
IN_JOB_VARS = ("DLBENCH_JOB_ID",)


def workspace(given: str | None) -> Workspace:
    return Workspace.find_at(given) if given else Workspace.find(create=True)


def _inside_job(what: str) -> bool:
    job = next((os.environ[v] for v in IN_JOB_VARS if os.environ.get(v)), None)
    if job:
        print(f"%dlbench {what}: skipped inside dlbench job {job} (this notebook is running as a "
              "job; starting more work from it would recurse)")
    return bool(job)


def dry_run_frame(trials: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """The expanded trials as a DataFrame: one row per trial, one column per parameter."""
    import pandas as pd

    frame = pd.DataFrame([dict(p) for p in trials])
    frame.index = pd.RangeIndex(len(frame), name="trial")
    return frame


def cmd_sweep(args: argparse.Namespace, user_ns: Mapping[str, Any]) -> Any:
    from ..execution.notebooks import read_parameters
    from ..sweeps import parse_spec, start_sweep

    if not args.dry_run and _inside_job("sweep"):
        return None
    notebook = notebook_argument(args.notebook, user_ns)
    spec = parse_spec(args.spec, method=args.method, random_n=args.random_n, seed=args.seed,
                      max_runs=args.max_runs)
    if args.dry_run:
        # typed as the notebook's defaults (lr=1 → 1.0 for a float), ranges over ints sample ints
        spec = spec.validate_against(read_parameters(notebook), notebook=str(notebook))
        return dry_run_frame(spec.expand())
    sweep = start_sweep(workspace(args.workspace), notebook, spec, concurrency=args.concurrency,
                        gpus=args.gpus, executor=args.executor, objective=args.objective,
                        early_stop=args.early_stop, name=args.name, ray_address=args.ray_address,
                        project=args.project, background=True, fresh_kernel=args.fresh_kernel)
    progress = _show_progress(sweep)
    if not args.wait:
        return None
    try:
        sweep.wait(progress=False)
    except KeyboardInterrupt:
        # interrupting the kernel is how a notebook user says "stop": stop the trials too
        sweep.cancel()
        print(f"%dlbench sweep: interrupted; sweep {sweep.id} cancelled", file=sys.stderr)
    finally:
        progress.stop()
        progress.poll_once()
    return sweep


def _show_progress(sweep: Any) -> Any:
    from IPython.display import display

    from ..widgets.sweep_progress import SweepProgress

    progress = SweepProgress(sweep)
    display(progress)
    return progress.start()


def cmd_run(args: argparse.Namespace, user_ns: Mapping[str, Any]) -> Any:
    from ..execution.jobs import JobStore
    from ..execution.notebooks import parse_cli_params
    from ..execution.scheduler import LocalScheduler
    from ..execution.submit import submit_notebook

    if _inside_job("run"):
        return None
    notebook = notebook_argument(args.notebook, user_ns, hint="%dlbench run PATH")
    ws = workspace(args.workspace)
    state = submit_notebook(ws, notebook, parse_cli_params(args.param), executor=args.executor,
                            gpus=args.gpus, project=args.project, name=args.name,
                            ray_address=args.ray_address)
    job_id = state.job_id
    scheduler = LocalScheduler(ws, only=[job_id], concurrency=1)
    owned = scheduler.acquire(wait=False)
    if not args.wait:
        if owned:
            # no JupyterLab or `dlbench worker` runs this workspace's queue: run it from here
            threading.Thread(target=_drive, args=(scheduler, job_id), daemon=True,
                             name=f"dlbench-run-{job_id}").start()
        print(f"job {job_id} queued: {notebook.name} {state.spec.params}; "
              f"`%dlbench runs` lists its run once it starts")
        return None
    if owned:
        final = _drive(scheduler, job_id)
    else:
        final = _follow(JobStore(ws), job_id)
    line = f"job {job_id}: {final.status}" + (f" (run {final.run_id})" if final.run_id else "")
    print(line + (f": {final.error}" if final.error else ""), file=sys.stderr if final.error else sys.stdout)
    return final.run_id


def _drive(scheduler: Any, job_id: str) -> Any:
    try:
        return scheduler.run_until_done([job_id])[0]
    finally:
        scheduler.release()


def _follow(store: Any, job_id: str, poll: float = 0.5) -> Any:
    import time

    while True:
        state = store.load(job_id)
        if state.terminal:
            return state
        time.sleep(poll)


def cmd_runs(args: argparse.Namespace) -> Any:
    return api.runs(project=args.project, where=args.where, include_system=args.all,
                    workspace=args.workspace)


def cmd_sql(statement: str, workspace_dir: str | None) -> Any:
    statement = statement.strip().rstrip(";").strip()
    if not statement:
        raise InvalidInput("no statement given: `%dlbench sql SELECT * FROM runs`, or a "
                           "`%%dlbench sql` cell with the SELECT in its body")
    return api.sql(statement, workspace=workspace_dir)


def cli_has(command: str) -> bool:
    """Whether ``dlbench COMMAND`` exists in this install (features land one by one)."""
    return (Path(__file__).resolve().parents[1] / "cli" / f"{command}.py").is_file()


def cmd_cli(command: str, rest: list[str], workspace_dir: str | None) -> None:
    """Run ``dlbench COMMAND …`` and show its output here.

    A fresh interpreter, not an in-process call: the CLI is a sibling layer that the magics must
    not import, and a subprocess also keeps the CLI's own exits and prints away from the kernel.
    """
    if not cli_has(command):
        print(f"%dlbench {command}: not available yet in this version of jupyter-dlbench")
        return
    argv = [sys.executable, "-m", "jupyter_dlbench.cli"]
    if workspace_dir:
        argv += ["--workspace", workspace_dir]
    done = subprocess.run([*argv, command, *rest], capture_output=True, text=True, check=False)
    if done.stdout:
        print(done.stdout, end="")
    if done.stderr:
        print(done.stderr.replace("dlbench:", f"%dlbench {command}:", 1), end="", file=sys.stderr)


def cmd_compare(args: argparse.Namespace) -> Any:
    """One ref that names a sweep compares its runs; otherwise the refs are run ids."""
    from ..sweeps import SweepNotFound, load_sweep

    target: Any = None
    if len(args.refs) == 1:
        try:
            target = load_sweep(workspace(args.workspace), args.refs[0])
        except SweepNotFound:
            target = None
    if target is None and args.refs:
        target = list(args.refs)
    objective = args.objective
    if objective and ":" in objective:
        metric, _, direction = objective.rpartition(":")
        objective = (metric, direction)
    return api.compare(target, where=args.where, project=args.project, objective=objective,
                       workspace=args.workspace)
