"""Content-addressed object store: immutable bytes named by their BLAKE3 hash.

Objects are written to a temporary file in the store, fsynced, then renamed into place, so a
reader never sees a partial object and a crash leaves at most a stray temporary file. A data
add stores its small objects in a pack file instead (:mod:`.packs`); every read here finds an
object wherever it lies.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import blake3

from ..errors import InvalidInput, ObjectCorrupt, ObjectNotFound, StorageFull, WorkspaceNotWritable
from .packs import Packed, PackIndex, PackWriter, fsync_path, read_packed

CHUNK = 1 << 20
OID_LENGTH = 64
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def storage_full(e: OSError, where: Path, doing: str) -> StorageFull:
    """The error a user sees when the disk (or their quota) runs out under ``where``."""
    return StorageFull(
        f"no space left on the disk holding {where} while {doing} ({e.strerror}); nothing "
        "partial was kept — free some space and retry"
    )


@dataclass(frozen=True)
class StoredObject:
    oid: str
    size: int


def _check_oid(oid: str) -> str:
    if len(oid) != OID_LENGTH or any(c not in "0123456789abcdef" for c in oid):
        raise InvalidInput(f"{oid!r} is not an object id (expected 64 lowercase hex characters)")
    return oid


def hash_file(path: str | os.PathLike[str]) -> StoredObject:
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return StoredObject(hasher.hexdigest(), size)


class ObjectStore:
    """Objects under ``root/ab/cdef…`` (two-character fan-out keeps directories small), and
    small ones of data adds in ``root/packs/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.packs = PackIndex(root / "packs")

    def path(self, oid: str) -> Path:
        """Where the object lies as a file of its own (it may be packed instead: see :meth:`file`)."""
        _check_oid(oid)
        return self.root / oid[:2] / oid[2:]

    def locate(self, oid: str) -> Path | Packed | None:
        """The object's file, or its place in a pack; None when the store lacks it."""
        loose = self.path(oid)
        if loose.is_file():
            return loose
        return self.packs.get(oid)

    def exists(self, oid: str) -> bool:
        return self.locate(oid) is not None

    def has(self, oid: str) -> bool:
        """:meth:`exists` for loops over many objects: no id check, string paths, and no look
        at the packs folder (call ``packs.refresh()`` once before the loop)."""
        return oid in self.packs or os.path.isfile(f"{self.root}/{oid[:2]}/{oid[2:]}")

    def size(self, oid: str) -> int:
        where = self.locate(oid)
        if where is None:
            raise ObjectNotFound(f"object {oid} is missing from {self.root}")
        return where.size if isinstance(where, Packed) else where.stat().st_size

    def put_bytes(self, data: bytes) -> StoredObject:
        oid = blake3.blake3(data).hexdigest()
        if not self.exists(oid):
            self._write(oid, lambda f: f.write(data))
        return StoredObject(oid, len(data))

    def put_file(self, source: str | os.PathLike[str]) -> StoredObject:
        """Copy a file in, hashing as it streams, so it is read once."""
        src = Path(source)
        if not src.is_file():
            raise InvalidInput(f"{str(src)!r} is not a file that can be stored")
        tmp = self._tempfile()
        hasher = blake3.blake3()
        size = 0
        try:
            with open(src, "rb") as fin, os.fdopen(tmp[0], "wb") as fout:
                while chunk := fin.read(CHUNK):
                    hasher.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            oid = hasher.hexdigest()
            self._publish(tmp[1], oid)
        except OSError as e:
            Path(tmp[1]).unlink(missing_ok=True)
            if e.errno in DISK_FULL:
                raise storage_full(e, self.root, f"storing {str(src)!r}") from None
            raise
        except BaseException:
            Path(tmp[1]).unlink(missing_ok=True)
            raise
        return StoredObject(oid, size)

    def _packed_bytes(self, oid: str) -> bytes:
        where = self.packs.get(oid)
        if where is not None:
            try:
                return read_packed(where)
            except FileNotFoundError:  # gc rewrote that pack since we read the index
                self.packs.refresh()
                where = self.packs.get(oid)
                if where is not None:
                    return read_packed(where)
        raise ObjectNotFound(f"object {oid} is missing from {self.root}")

    def open(self, oid: str) -> BinaryIO:
        try:
            return open(self.path(oid), "rb")
        except FileNotFoundError:
            return io.BytesIO(self._packed_bytes(oid))  # packed objects are small

    def read_bytes(self, oid: str, verify: bool = True) -> bytes:
        with self.open(oid) as f:
            data = f.read()
        if verify and blake3.blake3(data).hexdigest() != oid:
            raise ObjectCorrupt(f"object {oid} is corrupted: its content no longer hashes to its id")
        return data

    def check(self, oid: str) -> str | None:
        """None when the stored bytes still hash to ``oid``; else "missing" or "corrupted"."""
        try:
            loose = self.path(oid)
            if loose.is_file():
                ok = hash_file(loose).oid == oid
            else:
                ok = blake3.blake3(self._packed_bytes(oid)).hexdigest() == oid
        except (FileNotFoundError, ObjectNotFound, EOFError):
            return "missing"
        return None if ok else "corrupted"

    def verify(self, oid: str) -> bool:
        """True when the stored bytes still hash to ``oid``."""
        return self.check(oid) is None

    def file(self, oid: str) -> Path:
        """The object as a file of its own, for callers that need a path (serving an artifact,
        ``torch.load``): a packed object is written out as one first."""
        loose = self.path(oid)
        if not loose.is_file():
            data = self._packed_bytes(oid)
            self._write(oid, lambda f: f.write(data))
        return loose

    def copy_to(self, oid: str, dest: str | os.PathLike[str]) -> None:
        with self.open(oid) as fin, open(dest, "wb") as fout:
            shutil.copyfileobj(fin, fout, CHUNK)

    def iter_loose(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for fan in sorted(self.root.iterdir()):
            if len(fan.name) == 2 and fan.is_dir():
                for f in fan.iterdir():
                    if len(f.name) == OID_LENGTH - 2:
                        yield fan.name + f.name

    def iter_oids(self) -> Iterator[str]:
        """Every stored object once, files first, then packed ones."""
        seen = set()
        for oid in self.iter_loose():
            seen.add(oid)
            yield oid
        for oid in self.packs:
            if oid not in seen:
                yield oid

    def repack(self, pack: str, keep: list[tuple[str, int, int]]) -> None:
        """Replace a pack by one holding only ``keep`` (its live objects); for gc.

        The new pack is published before the old one's index goes, so every kept object stays
        readable throughout; a reader holding the old index retries through the new one.
        """
        if keep:
            writer = PackWriter(self.root)
            try:
                fd = os.open(pack, os.O_RDONLY)
                try:
                    for oid, off, size in keep:
                        data = os.pread(fd, size, off)
                        if len(data) != size or blake3.blake3(data).hexdigest() != oid:
                            raise ObjectCorrupt(f"object {oid} in {pack} is corrupted; run "
                                                "`dlbench data verify` before collecting garbage")
                        writer.add(oid, data)
                finally:
                    os.close(fd)
                writer.publish()
            except OSError as e:
                writer.discard()
                if e.errno in DISK_FULL:
                    raise storage_full(e, self.root, "rewriting a pack without its unused objects") from None
                raise
            except BaseException:
                writer.discard()
                raise
        old = Path(pack)
        old.with_suffix(".idx").unlink(missing_ok=True)
        old.unlink(missing_ok=True)
        fsync_path(old.parent)
        self.packs.refresh()

    def _tempfile(self) -> tuple[int, str]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        except PermissionError as e:
            raise WorkspaceNotWritable(f"cannot write objects into {self.root}: {e.strerror}") from None
        except OSError as e:
            if e.errno in DISK_FULL:
                raise storage_full(e, self.root, "creating an object") from None
            raise

    def _write(self, oid: str, writer) -> None:  # type: ignore[no-untyped-def]
        fd, name = self._tempfile()
        try:
            with os.fdopen(fd, "wb") as f:
                writer(f)
                f.flush()
                os.fsync(f.fileno())
            self._publish(name, oid)
        except OSError as e:
            Path(name).unlink(missing_ok=True)
            if e.errno in DISK_FULL:
                raise storage_full(e, self.root, f"storing object {oid[:12]}…") from None
            raise
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def _publish(self, tmp_name: str, oid: str) -> None:
        final = self.path(oid)
        final.parent.mkdir(exist_ok=True)
        os.chmod(tmp_name, 0o444)
        os.replace(tmp_name, final)
