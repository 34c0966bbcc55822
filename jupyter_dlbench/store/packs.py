"""Pack files: many small objects in one file, found through a sorted index beside it.

Why: a dataset of 20,000 small files stored as 20,000 object files pays for creating,
renaming and syncing each one, which costs several times more than reading the bytes. A data
add instead appends its new small objects to one pack and publishes it with one fsync.

Layout under ``objects/packs/``: ``<name>.pack`` holds the objects' bytes back to back;
``<name>.idx`` lists them as ``MAGIC, count`` then ``count`` records of (32-byte object id,
offset, size), sorted by id. The index is written last: a pack without its index is invisible
(a crashed add leaves at most a temporary file that ``data gc`` removes), and readers never
see a partial pack. Packs are immutable; ``data gc`` rewrites a pack without its dead objects
into a new one before deleting the old.
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"DLBPACK1"
_HEAD = struct.Struct("<8sQ")
_RECORD = struct.Struct("<32sQQ")
PACK_MAX_OBJECT = 1 << 20  # objects up to this size go into packs; bigger ones stay files
WRITEBACK_EVERY = 16 << 20  # start writing a pack's pages to disk every this many bytes
RECENT_NS = 1_000_000_000  # a packs folder changed this recently is listed again on the next look
_UNSURE = (-1, -1)
FLUSH_BYTES = 4 << 20  # a thread writes its queued objects once it holds this many bytes
FLUSH_OBJECTS = 512  # (or this many objects: pwritev takes at most 1024 buffers)


def _start_writeback():  # type: ignore[no-untyped-def]
    """``sync_file_range(fd, offset, n, SYNC_FILE_RANGE_WRITE)`` where Linux has it, else a no-op.

    It only starts writing those pages to disk, without waiting, so the sync before publishing
    finds most of a pack written already instead of writing all of it at the end.
    """
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return lambda fd, offset, n: None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]

    def start(fd: int, offset: int, n: int) -> None:
        fn(fd, offset, n, 2)  # SYNC_FILE_RANGE_WRITE; a failure only means the sync does it later

    return start


start_writeback = _start_writeback()


@dataclass(frozen=True)
class Packed:
    """Where one packed object lies."""

    pack: str  # the .pack file's path
    offset: int
    size: int


def read_index(idx: Path) -> list[tuple[str, int, int]]:
    """The (oid, offset, size) records of one index file."""
    data = idx.read_bytes()
    if len(data) < _HEAD.size:
        raise ValueError(f"{idx} is too short to be a pack index")
    magic, count = _HEAD.unpack_from(data)
    if magic != MAGIC or len(data) != _HEAD.size + count * _RECORD.size:
        raise ValueError(f"{idx} is not a pack index of this version")
    return [(raw.hex(), off, size) for raw, off, size in _RECORD.iter_unpack(data[_HEAD.size:])]


class PackIndex:
    """Every published pack's objects, reloaded when the ``packs`` folder changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stamp: tuple[int, int] | None = None
        # oid → (pack path, offset, size): plain tuples, as loading 20,000 records costs
        # 3x more when each becomes a Packed; get() makes the one asked for
        self._where: dict[str, tuple[str, int, int]] = {}
        self._loaded: set[str] = set()  # the index files read into _where
        self._lock = threading.Lock()

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.folder)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino

    def refresh(self) -> None:
        """Catch up if a pack was published or removed since the last look (one stat when
        nothing changed; only new indexes are read when packs were added)."""
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return
        with self._lock:
            names = {e.name for e in os.scandir(self.folder) if e.name.endswith(".idx")} \
                if stamp is not None else set()
            where = self._where
            if self._loaded - names:  # gc removed a pack: start over (readers keep the old map meanwhile)
                where, self._loaded = {}, set()
            for name in sorted(names - self._loaded):
                pack = str(self.folder / name[:-4]) + ".pack"
                try:
                    records = read_index(self.folder / name)
                except (OSError, ValueError):
                    continue  # removed meanwhile, or not ours: `data verify` reports missing objects
                for oid, off, size in records:
                    if oid not in where:
                        where[oid] = (pack, off, size)
                self._loaded.add(name)
            # a folder's mtime ticks coarsely (jiffies): a pack published later in the tick we
            # listed in would leave it unchanged, so a stamp that recent is not kept
            recent = stamp is not None and time.time_ns() - stamp[0] < RECENT_NS
            self._where, self._stamp = where, (_UNSURE if recent else stamp)

    def get(self, oid: str, refresh: bool = True) -> Packed | None:
        hit = self._where.get(oid)
        if hit is None and refresh:
            self.refresh()
            hit = self._where.get(oid)
        return None if hit is None else Packed(*hit)

    def __contains__(self, oid: str) -> bool:
        """Whether ``oid`` is packed, as of the last look (no refresh)."""
        return oid in self._where

    def unpacked(self, oids: set[str]) -> set[str]:
        """Those of ``oids`` not packed, as of the last look (one set operation, for many ids)."""
        return oids - self._where.keys()

    def __iter__(self) -> Iterator[str]:
        self.refresh()
        return iter(list(self._where))

    def packs(self) -> dict[str, list[tuple[str, int, int]]]:
        """Pack path → its records, read afresh (for gc)."""
        out: dict[str, list[tuple[str, int, int]]] = {}
        for idx in sorted(self.folder.glob("*.idx")) if self.folder.is_dir() else []:
            try:
                out[str(idx.with_suffix(".pack"))] = read_index(idx)
            except (OSError, ValueError):
                continue
        return out


class PackWriter:
    """Appends objects to a new pack from several threads; ``publish`` makes them visible.

    Each thread gathers its objects and writes them with one ``pwritev`` per few megabytes
    (a system call per object costs more than the copy); offsets are reserved under a lock, so
    threads write in parallel. An object already in this pack is not written twice.
    """

    def __init__(self, objects_root: Path) -> None:
        # the temporary pack lies beside temporary objects, where gc looks for an add's debris
        self.folder = objects_root / "packs"
        self.tmp = str(objects_root / f".tmp-pack-{os.getpid()}-{os.urandom(6).hex()}")
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        self._lock = threading.Lock()
        self._end = 0
        self._kicked = 0  # bytes before this offset have been handed to writeback
        self._seen: set[str] = set()
        self._local = threading.local()
        self._buffers: list[list[tuple[str, bytes | memoryview]]] = []
        self.records: dict[str, tuple[int, int]] = {}

    def add(self, oid: str, data: bytes | memoryview) -> bool:
        """Queue one object for writing unless this pack has it; False when it was already there."""
        with self._lock:
            if oid in self._seen:
                return False
            self._seen.add(oid)
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = []
            self._local.size = 0
            with self._lock:
                self._buffers.append(buf)
        buf.append((oid, data))
        self._local.size += len(data)
        if self._local.size >= FLUSH_BYTES or len(buf) >= FLUSH_OBJECTS:
            self._write(buf)
            self._local.size = 0
        return True

    def _write(self, buf: list[tuple[str, bytes | memoryview]]) -> None:
        """Write a thread's queued objects at a reserved offset, then empty its queue."""
        if not buf:
            return
        total = sum(len(d) for _, d in buf)
        with self._lock:
            offset = self._end
            self._end += total
        at = offset
        views = [memoryview(d) for _, d in buf]
        while views:
            n = os.pwritev(self.fd, views, at)
            at += n
            while views and n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            if views and n:
                views[0] = views[0][n:]
        with self._lock:
            at = offset
            for oid, d in buf:
                self.records[oid] = (at, len(d))
                at += len(d)
        buf.clear()
        end = offset + total
        if end - self._kicked >= WRITEBACK_EVERY:
            with self._lock:
                start = self._kicked
                self._kicked = max(start, end)
            if end > start:
                start_writeback(self.fd, start, end - start)

    def flush(self) -> None:
        """Write what every thread still holds (call once the threads are done)."""
        for buf in self._buffers:
            self._write(buf)

    def __len__(self) -> int:
        return len(self._seen)

    def publish(self, synced: bool = False) -> str | None:
        """Sync the pack (unless ``synced``), write its index, rename both into place; the
        pack's name, or None when it is empty (then nothing is left behind)."""
        self.flush()
        if not self.records:
            self.discard()
            return None
        if not synced:
            os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        name = f"pack-{os.urandom(10).hex()}"
        idx_tmp = f"{self.tmp}.idx"
        try:
            self.folder.mkdir(exist_ok=True)
            write_index(Path(idx_tmp), ((oid, off, size) for oid, (off, size) in self.records.items()))
            os.replace(self.tmp, self.folder / f"{name}.pack")
            os.replace(idx_tmp, self.folder / f"{name}.idx")  # now readers see the objects
        except BaseException:
            for leftover in (self.tmp, idx_tmp, str(self.folder / f"{name}.pack")):
                try:
                    os.unlink(leftover)
                except FileNotFoundError:
                    pass
            raise
        fsync_path(self.folder)
        return name

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def write_index(path: Path, records: Iterable[tuple[str, int, int]]) -> None:
    rows = sorted(records)
    buf = bytearray(_HEAD.pack(MAGIC, len(rows)))
    for oid, off, size in rows:
        buf += _RECORD.pack(bytes.fromhex(oid), off, size)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        view = memoryview(bytes(buf))
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: str | os.PathLike[str]) -> None:
    """fsync a file or folder by name (a folder's fsync makes renames into it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_packed(where: Packed) -> bytes:
    """The object's bytes (FileNotFoundError when gc removed its pack meanwhile)."""
    fd = os.open(where.pack, os.O_RDONLY)
    try:
        data = os.pread(fd, where.size, where.offset)
    finally:
        os.close(fd)
    if len(data) != where.size:
        raise EOFError(f"{where.pack} ends before the object at {where.offset} (+{where.size})")
    return data


__all__ = ["PACK_MAX_OBJECT", "PackIndex", "PackWriter", "Packed", "fsync_path", "read_index",
           "read_packed", "write_index"]
