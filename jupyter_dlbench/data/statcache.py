"""Stat cache: (path, size, mtime_ns, inode, ctime_ns) → object id, so unchanged files are not re-read.

SQLite (standard library) rather than the DuckDB catalog: it is a per-machine cache that many
processes may read and write at once without our catalog lock, and losing it costs only time.
Looking up one folder is a single range query; updates are one ``executemany`` per add.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

# A file modified in the same timestamp tick as our read could keep its mtime; entries younger
# than this (relative to when hashing started) are not cached (git's "racy clean" problem).
RACY_NS = 1_000_000_000

_SCHEMA = """CREATE TABLE IF NOT EXISTS stat (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ino INTEGER, ctime_ns INTEGER, oid TEXT
) WITHOUT ROWID"""

StatKey = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


class StatCache:
    """Opened per add; every failure of the cache file degrades to "no cache", never to an error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._con is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute(_SCHEMA)
                self._con = con
            except sqlite3.Error:
                self._reset()
        return self._con

    def _reset(self) -> None:
        """A corrupt cache file is thrown away; the next add simply hashes everything."""
        if self._con is not None:
            self._con.close()
            self._con = None
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute(_SCHEMA)
            self._con = con
        except sqlite3.Error:
            self._con = None

    def load(self, root: str, single_file: bool) -> dict[str, tuple[StatKey, str]]:
        """Cached entries for one file, or for every file under folder ``root``."""
        con = self._connect()
        if con is None:
            return {}
        try:
            if single_file:
                rows = con.execute("SELECT path, size, mtime_ns, ino, ctime_ns, oid FROM stat WHERE path = ?",
                                   (root,)).fetchall()
            else:
                prefix = root.rstrip("/") + "/"
                # every path below root sorts in [prefix, prefix with '/' bumped to '0')
                rows = con.execute(
                    "SELECT path, size, mtime_ns, ino, ctime_ns, oid FROM stat WHERE path >= ? AND path < ?",
                    (prefix, prefix[:-1] + "0")).fetchall()
        except sqlite3.Error:
            self._reset()
            return {}
        return {r[0]: ((r[1], r[2], r[3], r[4]), r[5]) for r in rows}

    def store(self, items: Iterable[tuple[str, StatKey, str]], started_ns: int) -> None:
        limit = started_ns - RACY_NS
        rows = [(p, *k, oid) for p, k, oid in items if k[1] < limit]
        con = self._connect()
        if con is None or not rows:
            return
        try:
            con.execute("BEGIN")
            con.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.execute("COMMIT")
        except sqlite3.Error:
            self._reset()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def now_ns() -> int:
    return time.time_ns()
