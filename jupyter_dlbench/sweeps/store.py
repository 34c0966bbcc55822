"""Sweeps as folders: ``sweeps/<id>/`` with an immutable ``sweep.json``, an append-only journal
of decisions (trial submitted, pruned, result told, cancel) and, for TPE, Optuna's study.

Like jobs, a sweep needs no catalog to run and survives any process: whoever drives it next
(the same kernel, a restarted one, ``dlbench sweeps resume``) replays the journal and goes on.
``driver.lock`` is held by the one process driving it, so two drivers never double-submit.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from ..store import Workspace
from ..store.lock import held_by_someone
from ..tracking.journal import JournalWriter, encode_event, read_journal


class SweepNotFound(NotFound):
    code = "sweep_not_found"

    def __init__(self, ref: str) -> None:
        super().__init__(f"no sweep matches {ref!r}; `dlbench sweeps ls` lists the sweeps")


def new_sweep_id() -> str:
    return "sweep-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class SweepMeta:
    """What a sweep was asked to do; written once."""

    sweep_id: str
    name: str
    notebook: str
    snapshot_oid: str
    spec: dict[str, Any]
    concurrency: int = 2
    gpus: float = 0.0
    executor: str = "local"
    ray_address: str | None = None
    objective: list[str] | None = None  # [metric, "max" | "min"]
    early_stop: dict[str, Any] | None = None
    project: str | None = None
    created_at: float = field(default_factory=time.time)
    fresh_kernel: bool = False  # every trial starts its own kernel (no reuse between trials)


class SweepStore:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.root = ws.root / "sweeps"

    def dir(self, sweep_id: str) -> Path:
        if not sweep_id or "/" in sweep_id or sweep_id.startswith("."):
            raise SweepNotFound(sweep_id)
        return self.root / sweep_id

    def create(self, meta: SweepMeta) -> None:
        tmp = self.root / f".tmp-{meta.sweep_id}"
        tmp.mkdir(parents=True)
        data = json.dumps(meta.__dict__, indent=2, default=str).encode()
        fd = os.open(tmp / "sweep.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        w = JournalWriter(tmp / "journal.dlj")
        w.append([encode_event({"t": "created", "ts": time.time()})])
        w.sync()
        w.close()
        os.rename(tmp, self.dir(meta.sweep_id))

    def meta(self, sweep_id: str) -> SweepMeta:
        try:
            return SweepMeta(**json.loads((self.dir(sweep_id) / "sweep.json").read_text()))
        except FileNotFoundError:
            raise SweepNotFound(sweep_id) from None

    def append(self, sweep_id: str, event: dict[str, Any]) -> None:
        event.setdefault("ts", time.time())
        w = JournalWriter(self.dir(sweep_id) / "journal.dlj")
        try:
            w.append([encode_event(event)])
        finally:
            w.close()

    def events(self, sweep_id: str) -> list[dict[str, Any]]:
        path = self.dir(sweep_id) / "journal.dlj"
        if not path.exists():
            raise SweepNotFound(sweep_id)
        return read_journal(path).events

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(n for n in os.listdir(self.root)
                      if not n.startswith(".") and (self.root / n / "sweep.json").exists())

    def resolve(self, ref: str) -> str:
        """A full sweep id from an id, a unique prefix or a unique name."""
        if not isinstance(ref, str) or not ref or "/" in ref:
            raise SweepNotFound(str(ref))
        ids = self.ids()
        if ref in ids:
            return ref
        matches = [i for i in ids if i.startswith(ref)]
        if not matches:
            matches = [i for i in ids if self.meta(i).name == ref]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidInput(f"{ref!r} matches several sweeps ({', '.join(matches[:5])}); give more characters")
        raise SweepNotFound(ref)

    def study_path(self, sweep_id: str) -> Path:
        return self.dir(sweep_id) / "study.optuna.log"

    def driver_alive(self, sweep_id: str) -> bool:
        """True while some process holds the sweep's driver lock."""
        return held_by_someone(self.dir(sweep_id) / "driver.lock")

    def take_driver_lock(self, sweep_id: str) -> int | None:
        """The lock's fd when this process may drive the sweep, else None (someone else is)."""
        fd = os.open(self.dir(sweep_id) / "driver.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        return fd
