"""Jobs: a request to execute a notebook with params on an executor, and its state.

A job is a folder ``jobs/<id>/`` holding an immutable ``spec.json`` and an append-only journal
of state events written by whoever moves it along (the submitter, the scheduler, the runner).
Appends are whole records in one ``write`` with ``O_APPEND``, so several processes may append.
The runner holds ``claim.lock`` while the job runs: the OS releases it when the runner dies,
which is how a dead job is told from a slow one.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from ..store import Workspace
from ..store.lock import held_by_someone
from ..tracking.journal import JournalWriter, encode_event, read_journal

QUEUED, STARTING, RUNNING = "queued", "starting", "running"
FINISHED, FAILED, CANCELLED, LOST = "finished", "failed", "cancelled", "lost"
PRUNED = "pruned"  # stopped early by a sweep's early-stopping rule: not a failure
TERMINAL = (FINISHED, FAILED, CANCELLED, LOST, PRUNED)
EXECUTORS = ("local", "ray")


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"no job matches {ref!r}; `dlbench jobs ls` lists the jobs")


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    notebook: str
    snapshot_oid: str
    params: dict[str, Any]
    executor: str = "local"
    gpus: float = 0.0
    cpus: float = 1.0
    retries: int = 0
    project: str | None = None
    name: str | None = None
    kernel_name: str = "python3"
    timeout_s: float | None = None
    ray_address: str | None = None
    sweep_id: str | None = None
    rerun_of: str | None = None
    submitted_at: float = field(default_factory=time.time)
    reuse_kernel: bool = False  # a sweep trial may run on the kernel of the previous trial


@dataclass
class JobState:
    spec: JobSpec
    status: str = QUEUED
    attempt: int = 0
    gpu_ids: list[str] = field(default_factory=list)
    run_id: str | None = None
    pid: int | None = None
    host: str | None = None
    error: str | None = None
    failed_cell: int | None = None
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    events: int = 0
    transfer: dict[str, Any] | None = None  # datasets fetched for a remote job

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("spec")
        return {"job_id": self.job_id, **asdict(self.spec), **out}


def new_job_id() -> str:
    return "job-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


class JobStore:
    """The jobs of one workspace, as folders; no catalog needed to queue or run one."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.root = ws.root / "jobs"

    def dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise JobNotFound(job_id)
        return self.root / job_id

    def submit(self, spec: JobSpec) -> JobState:
        if spec.executor not in EXECUTORS:
            raise InvalidInput(f"unknown executor {spec.executor!r}; known: {', '.join(EXECUTORS)}")
        if spec.retries < 0 or spec.retries > 100:
            raise InvalidInput(f"retries must be between 0 and 100, got {spec.retries}")
        if spec.cpus <= 0:
            raise InvalidInput(f"cpus must be positive, got {spec.cpus}")
        tmp = self.root / f".tmp-{spec.job_id}"
        tmp.mkdir(parents=True)
        (tmp / "spec.json").write_text(json.dumps(asdict(spec), indent=2))
        w = JournalWriter(tmp / "journal.dlj")
        w.append([encode_event({"t": QUEUED, "ts": time.time()})])
        w.sync()
        w.close()
        os.rename(tmp, self.dir(spec.job_id))
        return self.load(spec.job_id)

    def append(self, job_id: str, event: dict[str, Any]) -> None:
        event.setdefault("ts", time.time())
        w = JournalWriter(self.dir(job_id) / "journal.dlj")
        try:
            w.append([encode_event(event)])
        finally:
            w.close()

    def load(self, job_id: str) -> JobState:
        d = self.dir(job_id)
        try:
            spec = JobSpec(**json.loads((d / "spec.json").read_text()))
        except FileNotFoundError:
            raise JobNotFound(job_id) from None
        state = JobState(spec=spec)
        chunk = read_journal(d / "journal.dlj") if (d / "journal.dlj").exists() else None
        for ev in chunk.events if chunk else []:
            fold(state, ev)
        return state

    def all(self) -> list[JobState]:
        if not self.root.is_dir():
            return []
        names = sorted(n for n in os.listdir(self.root) if not n.startswith("."))
        states = []
        for n in names:
            try:
                states.append(self.load(n))
            except (JobNotFound, ValueError, TypeError):
                continue
        return sorted(states, key=lambda s: (s.spec.submitted_at, s.job_id))

    def resolve(self, ref: str) -> str:
        if (self.root / ref / "spec.json").exists() and "/" not in ref:
            return ref
        matches = [n for n in (os.listdir(self.root) if self.root.is_dir() else [])
                   if n.startswith(ref) and not n.startswith(".")] if ref and "/" not in ref else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidInput(f"{ref!r} matches several jobs ({', '.join(sorted(matches)[:5])}); give more characters")
        raise JobNotFound(ref)

    def request_cancel(self, job_id: str, reason: str = CANCELLED) -> None:
        """Ask whoever runs the job to stop it; ``reason`` ``pruned`` ends it as pruned."""
        (self.dir(job_id) / "cancel").write_text(reason)

    def cancel_requested(self, job_id: str) -> bool:
        return (self.dir(job_id) / "cancel").exists()

    def cancel_reason(self, job_id: str) -> str | None:
        try:
            text = (self.dir(job_id) / "cancel").read_text().strip()
        except FileNotFoundError:
            return None
        return PRUNED if text == PRUNED else CANCELLED

    def runner_alive(self, job_id: str) -> bool:
        """True while a runner holds the job's claim lock."""
        return held_by_someone(self.dir(job_id) / "claim.lock")


def fold(state: JobState, ev: dict[str, Any]) -> None:
    kind = ev.get("t")
    state.events += 1
    ts = ev.get("ts")
    if kind == QUEUED:
        state.status = QUEUED
        state.queued_at = state.queued_at or ts
    elif kind == "requeued":
        state.status = QUEUED
        state.error = ev.get("error")
    elif kind == STARTING:
        state.status = STARTING
        state.attempt = ev.get("attempt", state.attempt + 1)
        state.gpu_ids = list(ev.get("gpu_ids") or [])
        state.started_at = ts
        state.error = None
        state.failed_cell = None
        state.ended_at = None
    elif kind == RUNNING:
        if state.status not in TERMINAL:
            state.status = RUNNING
        state.run_id = ev.get("run_id", state.run_id)
        state.pid = ev.get("pid", state.pid)
        state.host = ev.get("host", state.host)
    elif kind == "transfer":
        state.transfer = {k: v for k, v in ev.items() if k not in ("t", "ts")}
    elif kind in TERMINAL:
        if state.status in TERMINAL and state.status != kind and kind == LOST:
            return  # a runner's own verdict beats a later "lost" guess
        state.status = kind
        state.ended_at = ts
        state.error = ev.get("error")
        state.failed_cell = ev.get("cell")
        state.run_id = ev.get("run_id", state.run_id)
