"""Stat cache: (path, size, mtime_ns, inode, ctime_ns) → object id, so unchanged files are not re-read.

One file per folder that was added (``cache/stat/<hash of the folder>``), holding every file
under it as a ``marshal``-ed dict and replaced whole by each add. Why not a database: a re-add
of 20,000 files where 1% changed is meant to cost a tenth of the first add, and loading 20,000
rows from SQLite took 40-60 ms of it where ``marshal`` takes under 10. It is a per-machine
cache, so losing or tearing a file only costs time: anything unreadable is treated as empty,
and two adds of one folder at once simply leave the last one's file.
"""

from __future__ import annotations

import marshal
import os
import time
from collections.abc import Iterable
from pathlib import Path

import blake3

# A file modified in the same timestamp tick as our read could keep its mtime; entries younger
# than this (relative to when hashing started) are not cached (git's "racy clean" problem).
RACY_NS = 1_000_000_000
_FORMAT = 1

StatKey = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


class StatCache:
    """Opened per add; every failure of the cache files degrades to "no cache", never to an error."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._root: str | None = None
        self._entries: dict[str, tuple[StatKey, str]] = {}

    def _file(self, root: str) -> Path:
        return self.folder / blake3.blake3(os.fsencode(root)).hexdigest()[:32]

    def load(self, root: str, single_file: bool) -> dict[str, tuple[StatKey, str]]:
        """Cached entries for one file, or for every file under folder ``root``.

        The cache of ``root`` itself, else of the nearest folder above it that was added (a
        sub-folder of an added dataset reuses what its parent's add hashed).
        """
        self._root = root
        prefix = root if single_file else root.rstrip("/") + "/"
        here = Path(root)
        for folder in (here, *here.parents):
            entries = self._read(str(folder))
            if entries is None:
                continue
            if folder != here or single_file:
                entries = {p: v for p, v in entries.items() if p == root or p.startswith(prefix)}
            self._entries = entries
            return entries
        return {}

    def _read(self, root: str) -> dict[str, tuple[StatKey, str]] | None:
        try:
            data = marshal.loads(self._file(root).read_bytes())
            if data[0] != _FORMAT or data[1] != root:  # another version, or a hash collision
                return None
            return data[2]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError, TypeError, IndexError, KeyError):
            return None  # unreadable or torn: the add hashes everything and writes it anew

    def store(self, items: Iterable[tuple[str, StatKey, str]], started_ns: int,
              keep: Iterable[str] = ()) -> None:
        """Write the cache of the folder last loaded: ``keep`` (paths reused from the loaded
        cache) and ``items`` (files just hashed, unless modified too recently to trust)."""
        if self._root is None:
            return
        limit = started_ns - RACY_NS
        old = self._entries
        entries = {p: old[p] for p in keep if p in old}
        for p, k, oid in items:
            if k[1] < limit:
                entries[p] = (k, oid)
            else:
                entries.pop(p, None)
        target = self._file(self._root)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(marshal.dumps((_FORMAT, self._root, entries)))
            os.replace(tmp, target)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk or a read-only cache: only time is lost

    def close(self) -> None:
        self._entries = {}


def now_ns() -> int:
    return time.time_ns()
