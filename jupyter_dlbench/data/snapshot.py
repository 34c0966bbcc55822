"""Turn a folder (or one file) into a manifest, storing each file's bytes once in the object store.

Speed notes: files are read once (hashed and, when the object is new, written from the same
buffer); many files go to one thread task so per-file Python overhead stays small; BLAKE3 and
file I/O release the GIL, so threads scale. The stat cache skips re-reading unchanged files.
An add of many small files appends them to one pack (:mod:`..store.packs`): creating, renaming
and syncing a file per object cost several times more than reading the bytes.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import stat
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import blake3

from ..errors import InvalidInput, StorageFull, WorkspaceNotWritable
from ..store import ObjectStore
from ..store.packs import PACK_MAX_OBJECT, PackWriter, fsync_path
from .manifest import Entry, Manifest, check_relpath
from .statcache import StatCache, StatKey, now_ns, stat_key
from .streaming import CHUNK, DirectUnsupported, open_direct, stream_into

SMALL = 8 << 20  # files up to this size are read in one call
BATCH_BYTES = 4 << 20  # one thread task takes files until this many bytes (or BATCH_FILES)
BATCH_FILES = 256
PACK_MIN_OBJECTS = 64  # an add with fewer new small files writes them as files of their own
_tmp_counter = itertools.count()


@dataclass(frozen=True)
class SnapshotStats:
    """What an add did: ``hashed`` files were read, ``reused`` came from the stat cache; with
    ``link``, ``linked`` files became objects as hard links and ``copied_instead`` could not be."""

    files: int
    hashed: int
    reused: int
    bytes_hashed: int
    objects_written: int
    linked: int = 0
    copied_instead: int = 0


class _Found(NamedTuple):  # a tuple: one is made per file, and a frozen dataclass costs 3x more
    rel: str
    abspath: str
    key: StatKey
    executable: bool


def default_workers(link: bool = False) -> int:
    """Threads that read and hash. Link mode reads and hashes only (the links are made in one
    thread afterwards), and with the bytes in the page cache more threads than half the cores
    only take turns on the GIL: 20,000 small files took 1.16 s with 1 thread, 1.31 s with 2 and
    1.65 s with 8 on a 2-core machine."""
    cores = os.cpu_count() or 2
    return max(1, cores // 2) if link else min(32, cores * 4)


_FILE_TYPE, _REGULAR = stat.S_IFMT(0o170000), stat.S_IFREG


class Scan(NamedTuple):
    """A folder as found: files to hash, files the stat cache vouches for, symlinks."""

    files: list[_Found]  # not in the cache, or changed since it was cached
    reused: dict[str, Entry]  # rel → entry, straight from the cache (size, mtime, inode, ctime equal)
    kept: list[str]  # their absolute paths, for the next cache
    links: dict[str, str]  # rel → target


def scan(path: Path, skip: Path | None = None,
         cached: dict[str, tuple[StatKey, str]] | None = None) -> Scan:
    """Regular files and symlinks under ``path`` (links are recorded, never followed).

    ``skip`` is a folder left out wherever it appears (the workspace, when a user adds the
    project folder that holds ``.dlbench/``, as git leaves out ``.git``); a ``path`` inside it
    is refused. A file whose stat key equals its entry in ``cached`` becomes a manifest entry
    here, in the loop that stats it: a re-add of 20,000 files where 1% changed spends most of
    its time in this loop, and a second pass over them cost 20 ms more.
    """
    if not os.path.lexists(path):
        raise InvalidInput(f"{str(path)!r} does not exist; give a folder or a file to add")
    top = os.stat(path)  # the PATH argument itself may be a link to the data
    skip_id = None
    if skip is not None and skip.is_dir():
        real, ws_real = path.resolve(), skip.resolve()
        if real == ws_real or real.is_relative_to(ws_real):
            raise InvalidInput(f"{str(path)!r} is inside the workspace {skip}; add a folder outside it")
        sst = os.stat(skip)
        skip_id = (sst.st_dev, sst.st_ino)
    files: list[_Found] = []
    reused: dict[str, Entry] = {}
    kept: list[str] = []
    if stat.S_ISREG(top.st_mode):  # one file: the caller looks it up in the cache
        files.append(_Found(check_relpath(path.name), str(path), stat_key(top), bool(top.st_mode & 0o111)))
        return Scan(files, reused, kept, {})
    if not stat.S_ISDIR(top.st_mode):
        raise InvalidInput(f"{str(path)!r} is neither a folder nor a regular file")
    links: dict[str, str] = {}
    append, keep, lookup = files.append, kept.append, (cached or {}).get
    stack = [(str(path), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except PermissionError as e:
            raise InvalidInput(f"cannot read the folder {folder!r}: {e.strerror}") from None
        for entry in entries:
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            if mode & _FILE_TYPE == _REGULAR:  # this loop runs per file: no calls it can spare
                # scandir never yields '', '.', '..' or a '/' in a name: only UTF-8 can be wrong
                rel = rel if rel.isascii() else check_relpath(rel)
                key = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)  # stat_key(st)
                full = entry.path
                hit = lookup(full)
                if hit is not None and hit[0] == key:
                    reused[rel] = Entry(hit[1], key[0], mode & 0o111 != 0)
                    keep(full)
                else:
                    append(_Found(rel, full, key, mode & 0o111 != 0))
            elif stat.S_ISDIR(mode):
                if (st.st_dev, st.st_ino) != skip_id:
                    stack.append((entry.path, rel + "/"))
            elif stat.S_ISLNK(mode):
                links[check_relpath(rel)] = os.readlink(entry.path)
            else:
                raise InvalidInput(
                    f"{entry.path!r} is a special file (socket, pipe or device); only regular files, "
                    "folders and symlinks can be part of a dataset")
    return Scan(files, reused, kept, links)


def _umask_hides_read() -> bool:
    """Whether the umask removes read bits (then objects need an fchmod to be exactly 0o444).

    Read from /proc (setting the umask to learn it would race with other threads); where that
    is unavailable, assume it does, which only costs the fchmod.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return bool(int(line.split()[1], 8) & 0o444)
    except (OSError, ValueError, IndexError):
        pass
    return True


_FCHMOD = _umask_hides_read()


def tmp_name(objects: ObjectStore) -> str:
    """A fresh name for an object before it is published (gc knows ``.tmp-*`` as debris)."""
    return f"{objects.root}/.tmp-{os.getpid()}-{next(_tmp_counter)}"


def _new_tmp(objects: ObjectStore, direct: bool = False) -> tuple[int, str]:
    """A new temp file, created read-only: the fd we hold may still write, and one syscall per
    object (the fchmod) is saved unless the umask strips read bits. ``direct`` opens it for
    O_DIRECT writes (:class:`.streaming.DirectUnsupported` where the file system refuses)."""
    name = tmp_name(objects)
    fd = open_direct(name, 0o444) if direct else os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    if _FCHMOD:
        try:
            os.fchmod(fd, 0o444)
        except BaseException:
            os.close(fd)
            os.unlink(name)
            raise
    return fd, name


def write_object(objects: ObjectStore, oid: str, data: bytes | memoryview,
                 pack: PackWriter | None = None) -> str | None:
    """Write one object's bytes into ``pack`` (None returned), or else to a read-only temp
    file (its name returned).

    Not yet durable nor visible: :func:`_publish` syncs all of an add's writes at once and then
    makes them visible, so a reader never sees a partial object and an add of many small files
    pays for one file-system sync instead of one fsync per file.
    """
    if pack is not None:
        pack.add(oid, data)
        return None
    fd, tmp = _new_tmp(objects)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return tmp




def _store_large(objects: ObjectStore, src_fd: int) -> tuple[str, int, str | None]:
    """Stream a big file into a temp object while hashing it (see :mod:`.streaming`): with
    O_DIRECT where the file system takes it, else through the page cache."""
    start = os.lseek(src_fd, 0, os.SEEK_CUR)
    for direct in (True, False):
        try:
            fd, tmp = _new_tmp(objects, direct)
        except DirectUnsupported:
            continue
        try:
            oid, size = stream_into(fd, src_fd, direct)
        except DirectUnsupported:
            os.close(fd)
            os.unlink(tmp)
            os.lseek(src_fd, start, os.SEEK_SET)  # hash it again from the start, buffered
            continue
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        if objects.has(oid):
            os.unlink(tmp)
            return oid, size, None
        return oid, size, tmp
    raise AssertionError("the page-cache path never raises DirectUnsupported")


def _is_the_object(objects: ObjectStore, oid: str, key: StatKey) -> bool:
    """Whether the file with stat ``key`` is the loose object ``oid`` itself (a hard link)."""
    try:
        st = os.stat(_object_path(objects, oid))
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns, st.st_ino) == key[:3]


def _object_path(objects: ObjectStore, oid: str) -> str:
    # plain string formatting: pathlib and id validation cost more than the stat itself here
    return f"{objects.root}/{oid[:2]}/{oid[2:]}"


def open_source(found: _Found) -> int:
    """Open a file being added (never through a symlink swapped in since the scan)."""
    try:
        return os.open(found.abspath, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise InvalidInput(f"cannot read {found.abspath!r}: {e.strerror}") from None


def store_open(objects: ObjectStore, fd: int, size: int, pack: PackWriter | None
               ) -> tuple[str, int, str | None]:
    """Hash the open file of ``size`` bytes; when its object is new, write it into ``pack``
    when small enough, else to a temp file (returned for publishing)."""
    if size > SMALL:
        return _store_large(objects, fd)
    data = _read_all(fd, size)
    oid = blake3.blake3(data).hexdigest()
    if objects.has(oid):
        return oid, len(data), None
    return oid, len(data), write_object(objects, oid, data,
                                        pack if len(data) <= PACK_MAX_OBJECT else None)


def _hash_and_store(objects: ObjectStore, found: _Found, pack: PackWriter | None
                    ) -> tuple[str, int, str | None]:
    fd = open_source(found)
    try:
        return store_open(objects, fd, found.key[0], pack)
    finally:
        os.close(fd)


def _syncfs(path: Path) -> bool:
    """``syncfs(2)`` on the file system holding ``path`` (Linux); False where unavailable."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return fn(fd) == 0
    finally:
        os.close(fd)


def _publish(objects: ObjectStore, pending: dict[str, str], workers: int,
             pack: PackWriter | None = None) -> None:
    """Make temp objects and the pack durable (one sync), publish the pack and rename the
    objects into place, then sync their folders."""
    if pack is not None:
        pack.flush()
    many = len(pending) >= 64  # below that, per-file fsyncs are cheaper than syncing the file system
    if not (many and _syncfs(objects.root)):
        many = False
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fsync_path, pending.values()))
    if pack is not None:
        pack.publish(synced=many)  # a file-system sync has covered the pack's bytes too
    if not pending:
        return
    fans = set()
    for oid, tmp in pending.items():
        if oid[:2] not in fans:
            os.makedirs(f"{objects.root}/{oid[:2]}", exist_ok=True)
            fans.add(oid[:2])
        os.replace(tmp, _object_path(objects, oid))
    if many and _syncfs(objects.root):  # one sync makes every rename durable
        return
    for fan in sorted(fans):
        fsync_path(f"{objects.root}/{fan}")


def _read_all(fd: int, expected: int) -> bytes:
    data = os.read(fd, expected + 1)
    if len(data) <= expected:  # a short read of a regular file is its end
        return data
    parts = [data]  # the file grew since we looked at it: take all of it
    while chunk := os.read(fd, CHUNK):
        parts.append(chunk)
    return b"".join(parts)


def _batches(items: list[_Found]) -> list[list[_Found]]:
    out: list[list[_Found]] = []
    cur: list[_Found] = []
    size = 0
    for f in items:
        cur.append(f)
        size += f.key[0]
        if size >= BATCH_BYTES or len(cur) >= BATCH_FILES:
            out.append(cur)
            cur, size = [], 0
    if cur:
        out.append(cur)
    return out


def snapshot(objects: ObjectStore, path: str | os.PathLike[str], cache: StatCache | None,
             workers: int | None = None, progress: bool = True,
             store: Callable[[ObjectStore, _Found, PackWriter | None], tuple[str, int, str | None]]
             | None = None,
             skip: Path | None = None, link: bool = False) -> tuple[Manifest, SnapshotStats]:
    """Hash and store every file under ``path``; return its manifest and what it cost.

    New objects become visible only after all of them are written and synced; on any error
    (a full disk included) the temp files are removed and nothing new is left behind. With
    ``link`` (which replaces ``store``) new objects are hard links to the files, which become
    read-only: see :mod:`.linking`.
    """
    root = Path(path).expanduser().absolute()
    started = now_ns()
    cached = cache.load(str(root), os.path.isfile(root)) if cache is not None else {}
    found = scan(root, skip, cached)
    entries = found.reused
    kept = found.kept
    for rel, target in found.links.items():
        entries[rel] = Entry(None, len(os.fsencode(target)), False, target)
    todo: list[_Found] = []
    relinked: list[tuple[str, StatKey, str]] = []
    for f in found.files:  # those the scan could not take from the cache as they are
        hit = cached.get(f.abspath)
        # a cached object that gc has removed since is caught by commit(), which checks every
        # object under the records lock; add() then hashes again without the cache
        if hit is not None and hit[0] == f.key:  # a single file (the scan only looks in folders)
            entries[f.rel] = Entry(hit[1], f.key[0], f.executable)
            kept.append(f.abspath)
        elif hit is not None and hit[0][:3] == f.key[:3] and _is_the_object(objects, hit[1], f.key):
            # only the ctime moved, and the file is the stored object itself (an add --link): a
            # checkout or gc changed its link count, not its content
            entries[f.rel] = Entry(hit[1], f.key[0], f.executable)
            relinked.append((f.abspath, f.key, hit[1]))
        else:
            todo.append(f)
    reused = len(kept) + len(relinked)
    hashed_bytes = packed = 0
    pending: dict[str, str] = {}  # oid -> temp file waiting to be published
    linker = None
    if link:
        from .linking import Linker  # it builds on this module's writers: imported on use

        store = linker = Linker()
    if todo:
        try:
            hashed_bytes, packed = _hash_all(objects, todo, entries, pending, workers or default_workers(link),
                                             progress, store or _hash_and_store)
        except BaseException:
            if linker is not None:
                linker.undo(objects)  # files whose link was not published get their mode back
            raise
    if cache is not None and (todo or relinked):
        # linking changed the ctime of linked files: cache what the next scan will see
        fresh = linker.fresh_keys() if linker is not None else {}
        keyed = ((f, fresh.get(f.abspath, f.key)) for f in todo)
        cache.store([(f.abspath, key, entries[f.rel].oid or "") for f, key in keyed
                     if entries[f.rel].size == key[0]] + relinked, started, keep=kept)
    stats = SnapshotStats(files=len(entries), hashed=len(todo), reused=reused,
                          bytes_hashed=hashed_bytes, objects_written=len(pending) + packed,
                          linked=len(linker.linked) if linker else 0,
                          copied_instead=linker.copied if linker else 0)
    return Manifest(entries), stats


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, show: bool) -> Any:
    """A tqdm bar on a terminal; otherwise a no-op, so scripts do not import tqdm (and asyncio)."""
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="hashing", leave=False)


def _hash_all(objects: ObjectStore, todo: list[_Found], entries: dict[str, Entry], pending: dict[str, str],
              workers: int, progress: bool,
              store: Callable[[ObjectStore, _Found, PackWriter | None], tuple[str, int, str | None]],
              ) -> tuple[int, int]:
    """Hash and store ``todo``; (bytes hashed, objects packed)."""
    try:
        objects.root.mkdir(parents=True, exist_ok=True)
    except PermissionError as e:
        raise WorkspaceNotWritable(f"cannot write objects into {objects.root}: {e.strerror}") from None
    made: list[str] = []  # every temp file written, for cleanup on failure (append is thread-safe)
    abort = threading.Event()
    objects.packs.refresh()  # once: the per-file lookups below do not stat the packs folder
    small = sum(1 for f in todo if f.key[0] <= PACK_MAX_OBJECT)
    pack: PackWriter | None = None

    def run_batch(batch: list[_Found]) -> list[tuple[_Found, str, int, str | None]]:
        out = []
        for f in batch:
            if abort.is_set():
                break
            oid, size, tmp = store(objects, f, pack)
            if tmp is not None:
                made.append(tmp)
            out.append((f, oid, size, tmp))
        return out

    bar = _progress_bar(sum(f.key[0] for f in todo), progress and sys.stderr.isatty())
    hashed = 0
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        if small >= PACK_MIN_OBJECTS:
            pack = PackWriter(objects.root)
        for result in pool.map(run_batch, _batches(todo)):
            for f, oid, size, tmp in result:
                entries[f.rel] = Entry(oid, size, f.executable)
                hashed += size
                if tmp is not None and pending.setdefault(oid, tmp) != tmp:
                    os.unlink(tmp)  # the same content twice in one add: keep one copy
            bar.update(sum(r[2] for r in result))
        pool.shutdown()
        finish = getattr(store, "finish", None)  # link mode links everything at the end
        if finish is not None:
            for oid, tmp in finish(objects, pack, made).items():
                if pending.setdefault(oid, tmp) != tmp:
                    os.unlink(tmp)
        _publish(objects, pending, workers, pack)
    except BaseException as e:
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if pack is not None:
            pack.discard()
        for tmp in made:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(
                f"the disk holding {objects.root} is full ({e.strerror or 'no space left'}); "
                "no version was created — free space (`dlbench data gc`) and add again") from None
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise WorkspaceNotWritable(f"cannot write objects into {objects.root}: {e.strerror}") from None
        raise
    finally:
        bar.close()
    return hashed, len(pack) if pack is not None else 0
