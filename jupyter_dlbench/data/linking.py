"""Link mode of ``dlbench data add --link``: a new object is a hard link to the user's file.

Copying 1 GB durably costs about 3 s where reading it costs 0.5 s, which is why DVC users pick
``cache.type = hardlink`` (https://dvc.org/doc/user-guide/data-management/large-dataset-optimization).
The price is DVC's too: the user's file *is* the stored object, so it is made read-only, and
writing to it anyway corrupts every version that holds it (``dlbench data verify`` finds that).
A file that cannot be linked (another file system, or a file the user does not own under
Linux's ``fs.protected_hardlinks``) is copied as a plain add would copy it.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from typing import NamedTuple

import blake3

from ..errors import InvalidInput
from ..store import ObjectStore
from ..store.packs import PackWriter
from .snapshot import CHUNK, SMALL, _Found, _read_all, open_source, store_open, tmp_name
from .statcache import StatKey, stat_key

# link(2) refusals that a copy gets around: another file system or mount, a file we do not own
# (protected_hardlinks), no write access to it, too many links, a file system without links
_COPY_INSTEAD = frozenset({errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP,
                           errno.EOPNOTSUPP})
# left as they are for snapshot's handler, which names them (StorageFull, WorkspaceNotWritable)
_PASS_ON = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class _Linked(NamedTuple):
    abspath: str
    oid: str
    ident: tuple[int, int, int]  # st_ino, st_size, st_mtime_ns when the file was read
    mode: int  # its permission bits before it was made read-only


def _changed(found: _Found) -> InvalidInput:
    return InvalidInput(f"{found.abspath!r} changed while it was being added; add it again")


class Linker:
    """:func:`.snapshot.snapshot`'s ``store`` in link mode.

    Worker threads only read and hash (:meth:`__call__`); the links are made afterwards, one
    after another in one thread (:meth:`finish`): a link, a stat and a chmod take microseconds
    each, and eight threads taking turns on the GIL for them made an add of 20,000 small files
    five times slower than doing them in a row.
    """

    def __init__(self) -> None:
        self.linked: list[_Linked] = []
        self.copied = 0
        self._claimed: set[str] = set()  # oids this add stores: the second file with one is not linked
        self._to_link: list[tuple[_Found, os.stat_result, str]] = []
        self._linkable: dict[int, bool] = {}  # device → whether link(2) works from it into the store
        self._lock = threading.Lock()

    def __call__(self, objects: ObjectStore, found: _Found, pack: PackWriter | None
                 ) -> tuple[str, int, str | None]:
        fd = open_source(found)
        try:
            st = os.fstat(fd)
            if not self._can_link(objects, found, st):
                oid, size, tmp = store_open(objects, fd, st.st_size, pack)
                return oid, size, self._copy_done(oid, tmp)
            if st.st_size > SMALL:
                oid, size = _hash_stream(fd)
            else:
                data = _read_all(fd, st.st_size)
                oid, size = blake3.blake3(data).hexdigest(), len(data)
        finally:
            os.close(fd)
        if not objects.has(oid) and self._claim(oid):
            with self._lock:
                self._to_link.append((found, st, oid))
        return oid, size, None

    def _can_link(self, objects: ObjectStore, found: _Found, st: os.stat_result) -> bool:
        """Whether files on ``found``'s device can be linked into the store (tried once per
        device with a link that is removed at once)."""
        known = self._linkable.get(st.st_dev)
        if known is not None:
            return known
        with self._lock:
            if st.st_dev not in self._linkable:
                probe = tmp_name(objects)
                try:
                    os.link(found.abspath, probe, follow_symlinks=False)
                    os.unlink(probe)
                    self._linkable[st.st_dev] = True
                except OSError as e:
                    if e.errno != errno.EXDEV:
                        self._linkable[st.st_dev] = True  # decided per file by finish()
                    else:
                        self._linkable[st.st_dev] = False
            return self._linkable[st.st_dev]

    def _claim(self, oid: str) -> bool:
        with self._lock:
            if oid in self._claimed:
                return False
            self._claimed.add(oid)
            return True

    def _copy_done(self, oid: str, tmp: str | None) -> str | None:
        with self._lock:
            self.copied += 1  # a file that could not be linked, whether or not its object was new
        if tmp is not None and not self._claim(oid):
            os.unlink(tmp)  # another file of this add stores the same content
            return None
        return tmp

    def finish(self, objects: ObjectStore, pack: PackWriter | None, made: list[str]) -> dict[str, str]:
        """Link every new object (oid → its temp link); files that cannot be linked are copied.

        Each temp name is appended to ``made`` as soon as it exists, so the caller removes it
        if anything fails later.
        """
        out: dict[str, str] = {}
        for found, st, oid in self._to_link:
            tmp = self._link(objects, found, st, oid)
            if tmp is None:  # refused for this file (not ours, too many links): copy it
                fd = open_source(found)
                try:
                    if os.fstat(fd).st_ino != st.st_ino:
                        raise _changed(found)
                    copied, _, tmp = store_open(objects, fd, st.st_size, pack)
                finally:
                    os.close(fd)
                if copied != oid:
                    if tmp is not None:
                        os.unlink(tmp)
                    raise _changed(found)
                self.copied += 1
                if tmp is None:
                    continue  # it went into the pack
            made.append(tmp)
            out[oid] = tmp
        return out

    def _link(self, objects: ObjectStore, found: _Found, st: os.stat_result, oid: str) -> str | None:
        """A read-only temp hard link to ``found`` (its name), or None when it must be copied."""
        tmp = tmp_name(objects)
        try:
            os.link(found.abspath, tmp, follow_symlinks=False)
        except OSError as e:
            if e.errno in _PASS_ON:
                raise
            if e.errno not in _COPY_INSTEAD:
                raise InvalidInput(f"cannot hard-link {found.abspath!r} into {objects.root}: {e.strerror}; "
                                   "add it without --link to copy it") from None
            return None
        try:
            now = os.lstat(tmp)
            # the same inode, size and mtime as when we read it: what we hashed is what we linked
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
                raise _changed(found)
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o222:
                # only the write bits go: an executable stays one, a private file stays private
                os.chmod(tmp, mode & 0o555)
        except PermissionError:  # linkable but not ours to chmod: leave it as it is, copy it
            os.unlink(tmp)
            return None
        except BaseException:
            os.unlink(tmp)  # removes our name only: the user's file is untouched
            raise
        self.linked.append(_Linked(found.abspath, oid, (st.st_ino, st.st_size, st.st_mtime_ns), mode))
        return tmp

    def fresh_keys(self) -> dict[str, StatKey]:
        """Stat-cache keys of the linked files as they are now.

        Linking, the chmod and publishing's rename all change a file's ctime, which the stat
        cache compares; unchanged content keeps its inode, size and mtime, so the next add
        (with or without ``--link``) finds it in the cache.
        """
        out = {}
        for rec in self.linked:
            try:
                st = os.lstat(rec.abspath)
            except OSError:
                continue
            if (st.st_ino, st.st_size, st.st_mtime_ns) == rec.ident:
                out[rec.abspath] = stat_key(st)
        return out

    def undo(self, objects: ObjectStore) -> None:
        """After a failed add: give write permission back to files whose object was not
        published (their temp links are already gone), so a failed add changes nothing."""
        for rec in self.linked:
            try:
                fd = os.open(rec.abspath, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                try:
                    obj = os.stat(f"{objects.root}/{rec.oid[:2]}/{rec.oid[2:]}")
                    published = (obj.st_dev, obj.st_ino) == (st.st_dev, st.st_ino)
                except FileNotFoundError:
                    published = False
                if st.st_ino == rec.ident[0] and not published and stat.S_IMODE(st.st_mode) != rec.mode:
                    os.fchmod(fd, rec.mode)
            except OSError:
                pass  # best effort: the add's own error is the one to report
            finally:
                os.close(fd)


def _hash_stream(fd: int) -> tuple[str, int]:
    """Hash a big file without writing anything: linking it will store it."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    size = 0
    while chunk := os.read(fd, CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size
