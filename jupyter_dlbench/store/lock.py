"""Our own cross-process lock around every catalog open.

DuckDB lets one process at a time hold a database file read-write, and measured here it lost
whole committed batches when processes took turns by retrying on its lock error
(see ../shared/MACHINE-NOTES.md §7). So no process opens the catalog without first holding
this ``flock``: exclusive for writers, shared for read-only opens, released only after the
DuckDB connection is closed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import CatalogBusy


def _holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "unknown"
    return text or "unknown"


@contextmanager
def file_lock(path: Path, exclusive: bool, timeout: float) -> Iterator[None]:
    """Hold ``flock`` on ``path``; polls so that a timeout can name the holder."""
    writable = True
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        # a read-only workspace can still be read: flock works on a read-only descriptor
        fd = os.open(path, os.O_RDONLY)
        writable = False
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise CatalogBusy(
                        f"the catalog is still busy after {timeout:.0f} s (held by {_holder(path)}); "
                        "retry, or raise DLBENCH_LOCK_TIMEOUT"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        if exclusive and writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def held_by_someone(path: Path) -> bool:
    """True while some process holds an ``flock`` on ``path`` (False when it does not exist).

    Liveness locks (a run's ``alive.lock``, a job's ``claim.lock``, a sweep's ``driver.lock``)
    are held for a process's whole life and released by the kernel when it dies, even by
    SIGKILL, so probing them tells "running" from "gone" without heartbeats or pid reuse races.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)
    return False
