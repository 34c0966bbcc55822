"""The :class:`Sweep` handle, :func:`start_sweep` and :func:`load_sweep`.

A ``Sweep`` is a view of a sweep folder: every property is computed from the sweep's journal,
its jobs' journals and its runs' metric journals, so a handle made in another process (a
restarted kernel, the CLI, the widget) shows the same thing. Driving the sweep (submitting
trials, telling Optuna, pruning) is :mod:`.driver`'s job, in a background thread, a detached
process or the foreground.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import DlbenchError, InvalidInput
from ..execution.jobs import EXECUTORS, JobNotFound, JobState, JobStore
from ..execution.notebooks import read_parameters
from ..execution.ray_policy import check_ray_address
from ..execution.resources import check_gpu_request
from ..store import Workspace
from .objective import MetricFollower, best_value, last_value, parse_objective
from .pruning import make_pruner
from .spec import SweepSpec, parse_spec, spec_from_dict
from .store import SweepMeta, SweepStore, new_sweep_id

STATUS = {"queued": "queued", "starting": "running", "running": "running", "finished": "finished",
          "failed": "failed", "cancelled": "cancelled", "lost": "lost", "pruned": "pruned"}
TRIAL_TERMINAL = ("finished", "failed", "cancelled", "pruned", "lost")


class SweepFailed(DlbenchError):
    code = "sweep_failed"


class Sweep:
    """A running or finished sweep: trials, their status and objective, the best one."""

    def __init__(self, ws: Workspace, meta: SweepMeta) -> None:
        self.ws = ws
        self.meta = meta
        self.spec = SweepSpec.from_dict(meta.spec)
        self._store = SweepStore(ws)
        self._jobs = JobStore(ws)
        obj = tuple(meta.objective) if meta.objective else None
        self.objective: tuple[str, str] | None = obj  # type: ignore[assignment]
        self._follower = MetricFollower(ws.runs_dir, obj[0]) if obj else None
        self._lock = threading.RLock()
        self._terminal_jobs: dict[str, JobState] = {}
        self._rows: list[dict[str, Any]] = []
        self._histories: dict[int, dict[int, float]] = {}
        self._events: list[dict[str, Any]] = []
        self._refreshed = 0.0
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self.cancelled = False
        self.error: str | None = None

    def __repr__(self) -> str:
        done = sum(r["status"] in TRIAL_TERMINAL for r in self.trials())
        return f"<Sweep {self.id} {self.name!r} {self.spec.method} {done}/{self.spec.n_runs} done>"

    @property
    def id(self) -> str:
        return self.meta.sweep_id

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def notebook(self) -> str:
        return self.meta.notebook

    @property
    def concurrency(self) -> int:
        return self.meta.concurrency

    @property
    def early_stop(self) -> str | None:
        return (self.meta.early_stop or {}).get("rule")

    # -- state -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the sweep's state from disk (journal, jobs, runs' metrics)."""
        with self._lock:
            events = self._store.events(self.id)
            trials: dict[int, dict[str, Any]] = {}
            pruned: dict[int, str] = {}
            self.cancelled, self.error = False, None
            for ev in events:
                kind = ev.get("t")
                if kind == "trial":
                    trials[int(ev["trial"])] = ev
                elif kind == "prune":
                    pruned[int(ev["trial"])] = ev.get("reason") or "pruned"
                elif kind == "cancel":
                    self.cancelled = True
                elif kind == "error":
                    self.error = ev.get("message")
            rows = [self._row(n, ev, pruned.get(n)) for n, ev in sorted(trials.items())]
            self._events, self._rows, self._refreshed = events, rows, time.monotonic()

    def _job(self, job_id: str) -> JobState | None:
        if job_id in self._terminal_jobs:
            return self._terminal_jobs[job_id]
        try:
            state = self._jobs.load(job_id)
        except JobNotFound:
            return None
        if state.terminal:
            self._terminal_jobs[job_id] = state
        return state

    def _row(self, n: int, ev: dict[str, Any], prune_reason: str | None) -> dict[str, Any]:
        job = self._job(ev["job_id"])
        status = STATUS.get(job.status, job.status) if job else "lost"
        if status == "cancelled" and prune_reason:
            status = "pruned"
        hist: dict[int, float] = {}
        if self._follower is not None and job is not None and job.run_id:
            hist = self._follower.history(job.run_id)
        self._histories[n] = hist
        direction = self.objective[1] if self.objective else "max"
        elapsed = None
        if job is not None and job.started_at:
            elapsed = (job.ended_at if job.terminal and job.ended_at else time.time()) - job.started_at
        error = prune_reason if status == "pruned" else (job.error if job else "its job folder is gone")
        if status == "finished" and self.objective and not hist:
            # the usual reason TPE learns nothing and `best` stays empty: say it where it shows
            error = f"the run logged no {self.objective[0]!r} metric (the sweep's objective)"
        return {"trial": n, "params": dict(ev["params"]), "status": status,
                "job_id": ev["job_id"], "run_id": job.run_id if job else None,
                "objective": last_value(hist), "best": best_value(hist, direction),
                "steps": len(hist), "elapsed_s": elapsed, "error": error}

    def _fresh(self) -> None:
        if time.monotonic() - self._refreshed > 0.5:
            self.refresh()

    def trials(self) -> list[dict[str, Any]]:
        """One dict per submitted trial, in order (re-read when older than half a second)."""
        with self._lock:
            self._fresh()
            return [dict(r, params=dict(r["params"])) for r in self._rows]

    def histories(self) -> dict[int, dict[int, float]]:
        """Each trial's objective per step so far, for charts."""
        with self._lock:
            self._fresh()
            return {n: dict(h) for n, h in self._histories.items()}

    @property
    def status(self) -> str:
        """``running``, ``finished``, ``cancelled``, ``failed`` (its driver stopped on an error) or
        ``paused`` (nobody drives it, e.g. after a kernel restart: ``wait()`` or ``resume()``)."""
        with self._lock:
            self._fresh()
            if self._all_done():
                return "cancelled" if self.cancelled else "finished"
            if self.driving():
                return "running"
            return "failed" if self.error else "paused"

    def _all_done(self) -> bool:
        if any(r["status"] not in TRIAL_TERMINAL for r in self._rows):
            return False
        return self.cancelled or len(self._rows) >= self.spec.n_runs

    @property
    def done(self) -> bool:
        with self._lock:
            self._fresh()
            return self._all_done()

    @property
    def best(self) -> dict[str, Any] | None:
        """The finished trial with the best final objective (None without an objective)."""
        if self.objective is None:
            return None
        scored = [r for r in self.trials() if r["status"] == "finished" and r["objective"] is not None]
        if not scored:
            return None
        pick = max if self.objective[1] == "max" else min
        return pick(scored, key=lambda r: r["objective"])

    @property
    def runs(self) -> list[str]:
        return [r["run_id"] for r in self.trials() if r["run_id"]]

    def table(self):  # type: ignore[no-untyped-def]
        """The trials as a DataFrame: ``trial``, one column per parameter, status, objective…"""
        import pandas as pd

        rows = []
        for r in self.trials():
            row: dict[str, Any] = {"trial": r["trial"], **r["params"], "status": r["status"]}
            if self.objective:
                row[self.objective[0]] = r["objective"]
                row[f"best {self.objective[0]}"] = r["best"]
            row.update(elapsed_s=r["elapsed_s"], run_id=r["run_id"], job_id=r["job_id"], error=r["error"])
            rows.append(row)
        columns = ["trial", *self.spec.names, "status"]
        if self.objective:
            columns += [self.objective[0], f"best {self.objective[0]}"]
        columns += ["elapsed_s", "run_id", "job_id", "error"]
        return pd.DataFrame(rows, columns=columns)

    # -- control ---------------------------------------------------------------------------

    def driving(self) -> bool:
        """True while some process (this one or another) drives the sweep."""
        return (self._thread is not None and self._thread.is_alive()) or self._store.driver_alive(self.id)

    def resume(self) -> Sweep:
        """Drive the sweep in a background thread of this process, unless someone already does."""
        if self.driving() or self.done:
            return self
        from .driver import Driver

        def target() -> None:
            try:
                Driver(self).run()
            except BaseException as e:  # noqa: BLE001 - kept for wait() to raise in the caller
                self._thread_error = e

        self._thread = threading.Thread(target=target, name=f"dlbench-sweep-{self.id}", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None, progress: bool = True) -> Sweep:
        """Block until every trial has ended (or ``timeout`` seconds pass; check ``done``).

        When nobody drives the sweep (its kernel was restarted), this call drives it.
        """
        from .driver import Driver, ProgressBar

        deadline = None if timeout is None else time.monotonic() + timeout
        bar = ProgressBar(self) if progress else None
        try:
            while True:
                self.refresh()
                if bar is not None:
                    bar.update()
                if self._thread_error is not None:
                    err, self._thread_error = self._thread_error, None
                    raise err
                if self._all_done() or (deadline is not None and time.monotonic() >= deadline):
                    return self
                if not self.driving():
                    Driver(self).run(deadline=deadline, on_step=bar.update if bar else None)
                    continue
                time.sleep(0.3)
        finally:
            if bar is not None:
                bar.close()

    def cancel(self) -> None:
        """Stop the sweep: no new trials; queued and running ones are cancelled."""
        self._store.append(self.id, {"t": "cancel"})
        for r in self.trials():
            if r["status"] not in TRIAL_TERMINAL and not self._jobs.cancel_requested(r["job_id"]):
                self._jobs.request_cancel(r["job_id"])
        if not self.driving():
            from .driver import Driver

            # nobody drives it (its kernel is gone): one pass lets a scheduler drop queued trials
            Driver(self).run(deadline=time.monotonic())
        self.refresh()


def _as_spec(spec: Any) -> SweepSpec:
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        return spec_from_dict(spec)
    if isinstance(spec, (list, tuple, str)):
        return parse_spec(spec)
    raise InvalidInput(f"a sweep spec is a SweepSpec, a dict or NAME=VALUES strings, got {type(spec).__name__}")


def start_sweep(ws: Workspace | None, notebook: str | Path, spec: SweepSpec | dict[str, Any] | list[str],
                concurrency: int = 2, gpus: float = 0, executor: str = "local",
                objective: str | tuple[str, str] | None = "val_acc:max", early_stop: Any = None,
                name: str | None = None, ray_address: str | None = None, background: bool = True,
                project: str | None = None, detach: bool = False, fresh_kernel: bool = False) -> Sweep:
    """Validate everything, record the sweep, and start driving it.

    ``background=True`` drives it from a thread of this process (the kernel stays usable);
    ``detach=True`` from a separate process that outlives this one (``dlbench sweep
    --no-wait``); otherwise this call blocks until the sweep is done.

    Trials of a local sweep run on a kernel kept from the previous trial (namespace reset), which
    saves a process and kernel start per trial; ``fresh_kernel=True`` starts one per trial.
    """
    ws = ws or Workspace.find()
    path = Path(notebook).expanduser().absolute()
    spec = _as_spec(spec).validate_against(read_parameters(path), notebook=str(notebook))
    if spec.seed is None and spec.method != "grid":
        spec = replace(spec, seed=secrets.randbelow(2**31))  # recorded, so the sweep can be redone
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInput(f"concurrency must be a whole number of trials at once (1 or more), got {concurrency!r}")
    if executor not in EXECUTORS:
        raise InvalidInput(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if executor == "ray" or ray_address:  # refused before the sweep is recorded
        check_ray_address(ray_address)
    gpus = check_gpu_request(gpus)
    obj = parse_objective(objective)
    pruner = make_pruner(early_stop)
    if obj is None and (spec.method == "tpe" or pruner is not None):
        raise InvalidInput(f"{'--method tpe' if spec.method == 'tpe' else '--early-stop'} needs an "
                           "objective to learn from, e.g. --objective val_acc:max")
    if name is not None and (not isinstance(name, str) or not name.strip() or "/" in name):
        raise InvalidInput(f"sweep name must be a non-empty string without '/', got {name!r}")
    sweep_id = new_sweep_id()
    meta = SweepMeta(sweep_id=sweep_id, name=name or f"{path.stem}-{sweep_id[-6:]}", notebook=str(path),
                     snapshot_oid=ws.objects.put_file(path).oid, spec=spec.to_dict(),
                     concurrency=concurrency, gpus=gpus, executor=executor, ray_address=ray_address,
                     objective=list(obj) if obj else None,
                     early_stop=pruner.to_dict() if pruner else None, project=project,
                     fresh_kernel=bool(fresh_kernel))
    store = SweepStore(ws)
    store.create(meta)
    sweep = Sweep(ws, meta)
    if spec.method == "tpe":
        from .driver import create_study

        create_study(sweep)
    if detach:
        from .driver import spawn_driver

        spawn_driver(sweep)
    elif background:
        sweep.resume()
    else:
        sweep.wait(progress=False)
    return sweep


def load_sweep(ws: Workspace | None, sweep_id_or_prefix: str, resume: bool = False) -> Sweep:
    """A handle on an existing sweep; ``resume=True`` drives it on if nobody does."""
    ws = ws or Workspace.find()
    store = SweepStore(ws)
    sweep = Sweep(ws, store.meta(store.resolve(sweep_id_or_prefix)))
    sweep.refresh()
    if resume:
        sweep.resume()
    return sweep


def list_sweeps(ws: Workspace | None = None) -> list[Sweep]:
    ws = ws or Workspace.find()
    store = SweepStore(ws)
    return [Sweep(ws, store.meta(i)) for i in store.ids()]
