"""Driving a sweep: submit trials up to the concurrency, tell results, prune, finish.

One loop, a few times a second, holding the sweep's ``driver.lock``. Each trial is an ordinary
job (``submit_notebook(..., sweep_id=...)``) so it runs wherever jobs run: under the Jupyter
server's scheduler or a ``dlbench worker`` when one holds the workspace's scheduler lock, else
under a :class:`LocalScheduler` this loop runs itself (as ``dlbench run --wait`` does). Every
decision is journaled before or right after it is acted on, so a driver killed at any point is
replaced by the next ``wait()``/``resume()`` without a trial submitted twice or lost.

Run detached: ``python -m jupyter_dlbench.sweeps.driver SWEEP_ID --workspace DIR``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import DlbenchError
from ..execution.jobs import PRUNED
from ..execution.scheduler import LocalScheduler
from ..execution.submit import submit_notebook
from ..store import Workspace
from .engine import TRIAL_TERMINAL, Sweep
from .pruning import make_pruner
from .space import distributions, from_optuna, sampler
from .store import SweepStore

POLL_S = 0.3


def _optuna():  # type: ignore[no-untyped-def]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _storage(sweep: Sweep) -> Any:
    optuna = _optuna()
    from optuna.storages.journal import JournalFileBackend

    path = SweepStore(sweep.ws).study_path(sweep.id)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def create_study(sweep: Sweep) -> None:
    """The Optuna study lives in the sweep's folder (a journal file: offline, restart-proof)."""
    optuna = _optuna()
    direction = "maximize" if sweep.objective and sweep.objective[1] == "max" else "minimize"
    optuna.create_study(storage=_storage(sweep), study_name=sweep.id, direction=direction,
                        load_if_exists=True)


class Driver:
    def __init__(self, sweep: Sweep, poll: float = POLL_S) -> None:
        self.sweep = sweep
        self.store = SweepStore(sweep.ws)
        self.poll = poll
        self.pruner = make_pruner(sweep.meta.early_stop)
        self.study: Any = None
        self._planned: list[dict[str, Any]] | None = None

    def run(self, stop: threading.Event | None = None, deadline: float | None = None,
            on_step: Callable[[], None] | None = None) -> bool:
        """Drive until the sweep is done, ``stop`` is set or ``deadline`` passes.

        Returns False at once when another process or thread already drives the sweep.
        """
        fd = self.store.take_driver_lock(self.sweep.id)
        if fd is None:
            return False
        scheduler = LocalScheduler(self.sweep.ws, concurrency=self.sweep.concurrency, only=set())
        owns = False
        try:
            if self.sweep.spec.method == "tpe":
                self._open_study()
            while not (stop is not None and stop.is_set()):
                if not owns:
                    owns = scheduler.acquire(wait=False)
                if self._step(scheduler if owns else None):
                    _spawn_sweep_report(self.sweep)
                    return True
                if on_step is not None:
                    on_step()
                if deadline is not None and time.monotonic() >= deadline:
                    return True
                if owns:
                    scheduler.wait(self.poll)  # wakes as soon as a trial's runner is free
                else:
                    time.sleep(self.poll)
            return True
        except Exception as e:
            self.store.append(self.sweep.id, {"t": "error", "message": f"{type(e).__name__}: {e}"})
            raise
        finally:
            if owns:
                scheduler.release()
            os.close(fd)

    # -- one pass --------------------------------------------------------------------------

    def _step(self, scheduler: LocalScheduler | None) -> bool:
        sweep = self.sweep
        if scheduler is not None:
            scheduler.only = {r["job_id"] for r in sweep._rows}
            scheduler.step()
        sweep.refresh()
        rows = sweep._rows
        if self.study is not None:
            self._tell(rows)
        if sweep.cancelled:
            for r in rows:
                if r["status"] not in TRIAL_TERMINAL and not sweep._jobs.cancel_requested(r["job_id"]):
                    sweep._jobs.request_cancel(r["job_id"])
        elif self.pruner is not None and sweep.objective is not None:
            self._prune(rows)
        if not sweep.cancelled and self._submit(rows):
            sweep.refresh()
            if scheduler is not None:
                scheduler.only = {r["job_id"] for r in sweep._rows}
                scheduler.step()
        return sweep._all_done() and (self.study is None or self._all_told())

    def _submit(self, rows: list[dict[str, Any]]) -> int:
        sweep = self.sweep
        active = sum(r["status"] not in TRIAL_TERMINAL for r in rows)
        n = len(rows)
        submitted = 0
        while active < sweep.concurrency and n < sweep.spec.n_runs:
            optuna_number = None
            if self.study is not None:
                trial = self.study.ask(distributions(sweep.spec))
                params, optuna_number = from_optuna(sweep.spec, trial.params), trial.number
            else:
                params = self._plan()[n]
            meta = sweep.meta
            job = submit_notebook(
                sweep.ws, meta.notebook, params, executor=meta.executor, gpus=meta.gpus,
                project=meta.project, name=f"{meta.name}#{n}", ray_address=meta.ray_address,
                sweep_id=sweep.id, snapshot_oid=meta.snapshot_oid, reuse_kernel=not meta.fresh_kernel)
            self.store.append(sweep.id, {"t": "trial", "trial": n, "params": params,
                                         "job_id": job.job_id, "optuna": optuna_number})
            n, active, submitted = n + 1, active + 1, submitted + 1
        return submitted

    def _plan(self) -> list[dict[str, Any]]:
        if self._planned is None:
            self._planned = self.sweep.spec.expand()
        return self._planned

    def _prune(self, rows: list[dict[str, Any]]) -> None:
        sweep = self.sweep
        assert sweep.objective is not None and self.pruner is not None
        maximize = sweep.objective[1] == "max"
        hists = sweep._histories
        finished = [hists.get(r["trial"], {}) for r in rows if r["status"] == "finished"]
        for r in rows:
            if r["status"] != "running" or sweep._jobs.cancel_requested(r["job_id"]):
                continue
            others = [hists.get(o["trial"], {}) for o in rows if o["trial"] != r["trial"]]
            reason = self.pruner.decide(r["trial"], hists.get(r["trial"], {}), finished, others, maximize)
            if reason:
                self.store.append(sweep.id, {"t": "prune", "trial": r["trial"], "reason": reason})
                sweep._jobs.request_cancel(r["job_id"], reason=PRUNED)

    # -- Optuna ----------------------------------------------------------------------------

    def _open_study(self) -> None:
        optuna = _optuna()
        storage = _storage(self.sweep)
        known = optuna.load_study(study_name=self.sweep.id, storage=storage)
        # a resumed sampler must not replay the random draws of its predecessor
        self.study = optuna.load_study(study_name=self.sweep.id, storage=storage,
                                       sampler=sampler(self.sweep.spec, len(known.trials)))
        self.sweep.refresh()
        ours = {ev.get("optuna") for ev in self.sweep._events if ev.get("t") == "trial"}
        for t in self.study.trials:  # asked by a driver that died before journaling the trial
            if t.state == optuna.trial.TrialState.RUNNING and t.number not in ours:
                self.study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)

    def _told(self) -> set[int]:
        return {int(ev["trial"]) for ev in self.sweep._events if ev.get("t") == "told"}

    def _all_told(self) -> bool:
        return len(self._told()) >= len(self.sweep._rows)

    def _tell(self, rows: list[dict[str, Any]]) -> None:
        optuna = _optuna()
        state_of = optuna.trial.TrialState
        told = self._told()
        numbers = {int(ev["trial"]): ev.get("optuna") for ev in self.sweep._events if ev.get("t") == "trial"}
        for r in rows:
            number = numbers.get(r["trial"])
            if r["status"] not in TRIAL_TERMINAL or r["trial"] in told or number is None:
                continue
            if r["status"] == "finished" and r["objective"] is not None:
                self.study.tell(number, r["objective"], skip_if_finished=True)
                state, value = "complete", r["objective"]
            elif r["status"] == "pruned":
                self.study.tell(number, state=state_of.PRUNED, skip_if_finished=True)
                state, value = "pruned", None
            else:
                self.study.tell(number, state=state_of.FAIL, skip_if_finished=True)
                state, value = "fail", None
            self.store.append(self.sweep.id, {"t": "told", "trial": r["trial"], "state": state,
                                              "value": value})
        self.sweep.refresh()


class ProgressBar:
    """A tqdm bar of ended trials with the best objective so far."""

    def __init__(self, sweep: Sweep) -> None:
        from tqdm import tqdm

        self.sweep = sweep
        self.bar = tqdm(total=sweep.spec.n_runs, unit="trial", desc=sweep.name, file=sys.stderr,
                        dynamic_ncols=True)
        self._text = ""

    def update(self) -> None:
        rows = self.sweep._rows
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        text = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        best = self.sweep.best
        if best is not None and self.sweep.objective:
            text += f" best {self.sweep.objective[0]}={best['objective']:.4g}"
        ended = sum(r["status"] in TRIAL_TERMINAL for r in rows)
        if text != self._text:
            self._text = text
            self.bar.set_postfix_str(text, refresh=ended == self.bar.n)
        if ended != self.bar.n:
            self.bar.update(ended - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _spawn_sweep_report(sweep: Sweep) -> None:
    """Write the sweep's report.html in a detached process when it ends (the reports layer
    sits above sweeps, so it is started by module name, never imported).
    ``DLBENCH_AUTO_REPORT=0`` disables it, as for runs."""
    if os.environ.get("DLBENCH_AUTO_REPORT", "1") == "0":
        return
    import subprocess
    import sys

    try:
        subprocess.Popen(
            [sys.executable, "-m", "jupyter_dlbench.reports.autowrite", sweep.id, "--sweep",
             "--workspace", str(sweep.ws.root)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
    except OSError as e:  # the sweep is recorded; only its report is missing
        print(f"dlbench: could not start the report writer for sweep {sweep.id}: {e}", file=sys.stderr)


def spawn_driver(sweep: Sweep) -> int:
    """Drive the sweep from a process of its own session that outlives the caller."""
    log = open(SweepStore(sweep.ws).dir(sweep.id) / "driver.log", "ab")  # noqa: SIM115 - the child owns it
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_dlbench.sweeps.driver", sweep.id, "--workspace",
             str(sweep.ws.root)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "DLBENCH_HOME": str(sweep.ws.root)})
    finally:
        log.close()
    return proc.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_dlbench.sweeps.driver")
    parser.add_argument("sweep_id")
    parser.add_argument("--workspace", required=True)
    args = parser.parse_args(argv)
    from .engine import load_sweep

    try:
        sweep = load_sweep(Workspace.find_at(args.workspace), args.sweep_id)
        Driver(sweep).run()
    except DlbenchError as e:
        print(f"dlbench sweep driver: error: {e.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
