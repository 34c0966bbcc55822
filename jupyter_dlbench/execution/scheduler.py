"""The local scheduler: claims queued jobs, assigns GPUs, starts runners, reconciles.

One scheduler per workspace at a time (``scheduler.lock``): the Jupyter server's, a
``dlbench worker``, or ``dlbench run --wait`` when neither is running. Runners live in their own
sessions, so when a scheduler dies its running jobs keep going; the next scheduler adopts them by
their claim locks and GPU ids, and marks lost the ones whose runner is gone.
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import DlbenchError
from ..store import Workspace
from .jobs import CANCELLED, LOST, QUEUED, RUNNING, STARTING, JobState, JobStore
from .resources import GpuAllocator, detect_gpus

START_GRACE_S = 30.0  # a runner that has not taken its claim lock by then is lost


class SchedulerBusy(DlbenchError):
    code = "scheduler_busy"
    http_status = 409


@dataclass
class _Tracked:
    job_id: str
    proc: subprocess.Popen[bytes] | None  # None: adopted from a previous scheduler
    since: float = field(default_factory=time.monotonic)


class LocalScheduler:
    def __init__(self, ws: Workspace, concurrency: int | None = None,
                 gpu_ids: list[str] | None = None, only: Iterable[str] | None = None,
                 on_change: Callable[[JobState], None] | None = None) -> None:
        self.ws = ws
        self.store = JobStore(ws)
        self.gpu_ids = list(gpu_ids) if gpu_ids is not None else detect_gpus()
        default = max(1, os.cpu_count() or 1)
        self.concurrency = concurrency or int(os.environ.get("DLBENCH_CONCURRENCY", default))
        self.remote_concurrency = int(os.environ.get("DLBENCH_RAY_CONCURRENCY", "32"))
        self.allocator = GpuAllocator(self.gpu_ids)
        self.only = set(only) if only is not None else None
        self.on_change = on_change
        self.tracked: dict[str, _Tracked] = {}
        self._lock_fd = -1

    # -- ownership -------------------------------------------------------------------------

    def acquire(self, wait: bool = False) -> bool:
        path = self.ws.root / "scheduler.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not wait:
                    os.close(fd)
                    return False
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._lock_fd = fd
        self.reconcile()
        return True

    def release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def reconcile(self) -> None:
        """Adopt running jobs left by a previous scheduler; mark lost those whose runner died."""
        for state in self.store.all():
            if state.status not in (STARTING, RUNNING) or state.job_id in self.tracked:
                continue
            if self.store.runner_alive(state.job_id):
                try:
                    self.allocator.restore(state.job_id, state.gpu_ids, state.spec.gpus)
                except DlbenchError:
                    pass  # configuration changed since; the job keeps running, unaccounted
                self.tracked[state.job_id] = _Tracked(state.job_id, None)
            elif state.status == STARTING:
                # placed but never running: no cell ran, so it is queued again, not lost
                self.store.append(state.job_id, {
                    "t": "requeued",
                    "error": "its runner never started (the scheduler stopped first); queued again"})
            else:
                self._lost(state, "its runner was gone when the scheduler (re)started")

    # -- the loop --------------------------------------------------------------------------

    def step(self) -> list[JobState]:
        states = self.store.all()
        by_id = {s.job_id: s for s in states}
        for job_id in list(self.tracked):
            self._check_tracked(by_id.get(job_id) or self.store.load(job_id))
        running = sum(1 for j in self.tracked if by_id.get(j) is None or by_id[j].spec.executor == "local")
        remote = len(self.tracked) - running
        for state in states:
            if state.status != QUEUED or (self.only is not None and state.job_id not in self.only):
                continue
            if self.store.cancel_requested(state.job_id):
                self.store.append(state.job_id, {"t": CANCELLED, "error": "cancelled while queued"})
                self._changed(state.job_id)
                continue
            if state.spec.executor != "local":
                # Ray places and queues remote jobs itself; we only bound the local runners
                if remote < self.remote_concurrency:
                    self._start(state, None)
                    remote += 1
                continue
            if running >= self.concurrency:
                continue
            gpus = self.allocator.allocate(state.job_id, state.spec.gpus)
            if gpus is None:
                continue  # does not fit now; a smaller job behind it may
            self._start(state, gpus)
            running += 1
        return states

    def _start(self, state: JobState, gpus: list[str] | None) -> None:
        attempt = state.attempt + 1
        self.store.append(state.job_id, {"t": STARTING, "attempt": attempt, "gpu_ids": gpus or []})
        env = {**os.environ, "DLBENCH_HOME": str(self.ws.root)}
        if gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        env.pop("DLBENCH_RUN_ID", None)
        log = open(self.store.dir(state.job_id) / "job.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_dlbench.execution.runner", state.job_id,
                 "--workspace", str(self.ws.root), "--attempt", str(attempt)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,
            )
        finally:
            log.close()
        self.tracked[state.job_id] = _Tracked(state.job_id, proc)
        self._changed(state.job_id)

    def _check_tracked(self, state: JobState) -> None:
        t = self.tracked[state.job_id]
        alive = t.proc.poll() is None if t.proc is not None else self.store.runner_alive(state.job_id)
        if alive and t.proc is not None and state.status == STARTING and \
                time.monotonic() - t.since > START_GRACE_S and not self.store.runner_alive(state.job_id):
            t.proc.kill()
            alive = False
        if alive and self.store.cancel_requested(state.job_id) and t.proc is not None:
            if time.monotonic() - os.path.getmtime(self.store.dir(state.job_id) / "cancel") > 15:
                t.proc.kill()  # the runner did not stop its kernel in time
        if alive:
            return
        if t.proc is not None:
            t.proc.wait()
        state = self.store.load(state.job_id)
        if not state.terminal:
            code = t.proc.returncode if t.proc is not None else None
            self._lost(state, f"its runner process ended (exit code {code}) before finishing the job"
                       if code is not None else "its runner process is gone")
            state = self.store.load(state.job_id)
        del self.tracked[state.job_id]
        self.allocator.release(state.job_id)
        # Ray retries its own lost workers (max_retries); local jobs are retried here
        if state.status in ("failed", LOST) and state.attempt <= state.spec.retries \
                and state.spec.executor == "local" and not self.store.cancel_requested(state.job_id):
            self.store.append(state.job_id, {"t": "requeued", "error": state.error})
        self._changed(state.job_id)

    def _lost(self, state: JobState, why: str) -> None:
        self.store.append(state.job_id, {"t": LOST, "error": why})
        # the run, if one was made, is marked crashed by ingestion (its liveness lock is free)

    def _changed(self, job_id: str) -> None:
        if self.on_change is not None:
            self.on_change(self.store.load(job_id))

    def idle(self) -> bool:
        return not self.tracked and not any(
            s.status == QUEUED and (self.only is None or s.job_id in self.only) for s in self.store.all())

    def run_forever(self, stop: threading.Event, poll: float = 0.5) -> None:
        while not stop.is_set():
            self.step()
            stop.wait(poll)

    def run_until_done(self, job_ids: Iterable[str], poll: float = 0.3,
                       progress: Callable[[list[JobState]], None] | None = None) -> list[JobState]:
        wanted = set(job_ids)
        while True:
            states = [s for s in self.step() if s.job_id in wanted]
            if progress is not None:
                progress(states)
            if all(s.terminal for s in states) and not (wanted & set(self.tracked)):
                return [self.store.load(j) for j in sorted(wanted)]
            time.sleep(poll)
