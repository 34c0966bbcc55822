"""The local scheduler: claims queued jobs, assigns GPUs, starts runners, reconciles.

One scheduler per workspace at a time (``scheduler.lock``): the Jupyter server's, a
``dlbench worker``, or ``dlbench run --wait`` when neither is running. Runners live in their own
sessions, so when a scheduler dies its running jobs keep going; the next scheduler adopts them by
their claim locks and GPU ids, and marks lost the ones whose runner is gone.

A local runner serves several jobs in turn: once it has given its verdict and let go of a job's
claim lock, the scheduler accounts that job as ended (slot and GPUs released, retries decided)
and may hand it the next queued job on its stdin instead of starting a process; a runner left
without work for ``IDLE_KEEP_S`` is told to exit by closing that pipe (it also exits when the
scheduler dies, and finishes its current job first).
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
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
IDLE_KEEP_S = 3.0  # a runner with no job waits this long for the next one (a sweep's next trial)


class SchedulerBusy(DlbenchError):
    code = "scheduler_busy"
    http_status = 409


@dataclass
class _Tracked:
    job_id: str
    proc: subprocess.Popen[bytes] | None  # None: adopted from a previous scheduler
    since: float = field(default_factory=time.monotonic)


def _serving(proc: subprocess.Popen[bytes]) -> bool:
    """A runner that reads further jobs from our pipe (and has not been told to stop)."""
    return proc.stdin is not None and not proc.stdin.closed


@dataclass
class _Idle:
    """A serving runner between jobs: it waits on its stdin for the next ``JOB_ID ATTEMPT``."""

    proc: subprocess.Popen[bytes]
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
        self.idle_runners: list[_Idle] = []
        self._closing: list[subprocess.Popen[bytes]] = []  # told to exit; reaped by step()
        self._notify: dict[int, int] = {}  # runner pid → read end of its "job ended" pipe
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
        self.close_idle_runners(0.0)
        for t in self.tracked.values():  # busy runners finish their job, then exit
            if t.proc is not None and t.proc.stdin is not None:
                try:
                    t.proc.stdin.close()
                except OSError:
                    pass
        for fd in self._notify.values():
            os.close(fd)
        self._notify.clear()
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
        self.close_idle_runners(IDLE_KEEP_S)
        return states

    def close_idle_runners(self, older_than: float) -> None:
        """End serving runners idle for longer than ``older_than`` seconds (closing their stdin
        is the signal), and reap those told earlier."""
        now = time.monotonic()
        for idle in list(self.idle_runners):
            if idle.proc.poll() is not None or now - idle.since >= older_than:
                self.idle_runners.remove(idle)
                self._close(idle.proc)
                if idle.proc.poll() is not None:
                    self._forget(idle.proc)
        for proc in self._closing:
            if proc.poll() is not None:
                self._forget(proc)
        self._closing = [p for p in self._closing if p.poll() is None]

    def _forget(self, proc: subprocess.Popen[bytes]) -> None:
        """The runner has ended: stop watching its notify pipe."""
        fd = self._notify.pop(proc.pid, None)
        if fd is not None:
            os.close(fd)

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, waking as soon as a serving runner reports that a
        job ended (a byte on its notify pipe): the next step then hands over at once instead
        of up to one poll later, which a sweep of short trials pays per trial."""
        if not self._notify:
            time.sleep(timeout)
            return
        try:
            ready, _, _ = select.select(list(self._notify.values()), [], [], timeout)
        except (OSError, ValueError):
            time.sleep(timeout)
            return
        for fd in ready:
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:  # the runner is gone: stop watching its pipe
                for pid, f in list(self._notify.items()):
                    if f == fd:
                        del self._notify[pid]
                os.close(fd)

    def _close(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass  # it is gone already
        if proc.poll() is None:
            self._closing.append(proc)

    def _hand_over(self, job_id: str, attempt: int) -> subprocess.Popen[bytes] | None:
        """Give the job to a runner that is waiting for one; None when none took it."""
        while self.idle_runners:
            idle = self.idle_runners.pop()  # the most recent: its kernel and caches are warmest
            if idle.proc.poll() is not None or not _serving(idle.proc):
                continue
            try:
                idle.proc.stdin.write(f"{job_id} {attempt}\n".encode())  # type: ignore[union-attr]
                idle.proc.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):  # it ended meanwhile: try another, else start a new one
                self._close(idle.proc)
                continue
            return idle.proc
        return None

    def _start(self, state: JobState, gpus: list[str] | None) -> None:
        attempt = state.attempt + 1
        self.store.append(state.job_id, {"t": STARTING, "attempt": attempt, "gpu_ids": gpus or []})
        local = state.spec.executor == "local"
        proc = self._hand_over(state.job_id, attempt) if local else None
        if proc is None:
            proc = self._spawn(state.job_id, attempt, gpus, serve=local)
        self.tracked[state.job_id] = _Tracked(state.job_id, proc)
        self._changed(state.job_id)

    def _spawn(self, job_id: str, attempt: int, gpus: list[str] | None,
               serve: bool) -> subprocess.Popen[bytes]:
        """A new runner process; a serving one keeps a pipe on its stdin for later jobs (it
        reads end of input, and exits, when this scheduler closes it or dies)."""
        env = {**os.environ, "DLBENCH_HOME": str(self.ws.root)}
        if gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        env.pop("DLBENCH_RUN_ID", None)
        log = open(self.store.dir(job_id) / "job.log", "ab")  # noqa: SIM115 - the child owns it
        notify_r, notify_w = os.pipe() if serve else (-1, -1)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_dlbench.execution.runner", job_id,
                 "--workspace", str(self.ws.root), "--attempt", str(attempt),
                 *(["--serve", "--notify-fd", str(notify_w)] if serve else [])],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                stdin=subprocess.PIPE if serve else subprocess.DEVNULL,
                pass_fds=(notify_w,) if serve else (),
            )
        except BaseException:
            if serve:
                os.close(notify_r)
            raise
        finally:
            log.close()
            if serve:
                os.close(notify_w)
        if serve:
            os.set_blocking(notify_r, False)
            self._notify[proc.pid] = notify_r
        return proc

    def _check_tracked(self, state: JobState) -> None:
        t = self.tracked[state.job_id]
        alive = t.proc.poll() is None if t.proc is not None else self.store.runner_alive(state.job_id)
        if alive and t.proc is not None and _serving(t.proc) and state.terminal \
                and not self.store.runner_alive(state.job_id):
            # a serving runner gave its verdict and let go of the job: it waits for the next
            self.idle_runners.append(_Idle(t.proc))
            alive = False
            t = _Tracked(t.job_id, None, t.since)
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
            self._forget(t.proc)
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
            self.wait(poll)
