"""Materialise a version as files: hard links from the object store, or copies across devices.

The folder is built beside its destination and renamed into place, so a failed checkout leaves
nothing half-made. Files are read-only because, when hard-linked, they *are* the stored
objects: writing to one would corrupt every version that shares it (``dlbench data verify``
finds it if someone forces it anyway).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetConflict, InvalidInput, ObjectCorrupt, ObjectNotFound, StorageFull
from ..store import ObjectStore, Workspace
from .manifest import Entry, Manifest


@dataclass(frozen=True)
class CheckoutStats:
    files: int
    linked: int
    copied: int
    symlinks: int


def _is_empty_dir(path: Path) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def _guard(ws: Workspace, dest: Path) -> None:
    ws_root = ws.root.resolve()
    real = dest.resolve()
    if real == ws_root or ws_root.is_relative_to(real) or real.is_relative_to(ws_root / "objects"):
        raise InvalidInput(f"refusing to check out into {str(dest)!r}: it holds the workspace {ws.root}")


def _guard_replace(target: Path) -> None:
    """--force deletes what is in ``target``: never the home folder, a root, or the cwd's parents."""
    real = target.resolve()
    cwd = Path.cwd().resolve()
    if real == Path(real.anchor) or real == Path.home().resolve() or cwd.is_relative_to(real):
        raise DatasetConflict(f"refusing to replace the contents of {str(target)!r} (a root, the home "
                              "folder, or a folder holding the current directory); check out into a "
                              "new folder instead")


def checkout(ws: Workspace, manifest: Manifest, dest: str | os.PathLike[str], force: bool = False,
             what: str = "the dataset", link: bool = True, workers: int = 8) -> CheckoutStats:
    """Write ``manifest``'s files into ``dest`` (created; must be empty unless ``force``).

    With ``force`` the previous contents of ``dest`` are replaced (moved aside, then deleted).
    """
    target = Path(dest).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise DatasetConflict(f"{str(target)!r} exists and is not a folder")
    _guard(ws, target)
    nonempty = target.is_dir() and not _is_empty_dir(target)
    if nonempty and not force:
        raise DatasetConflict(f"{str(target)!r} is not empty; choose an empty folder or use --force "
                              "(force=True) to replace its contents")
    if nonempty:
        _guard_replace(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.checkout-{os.urandom(4).hex()}"
    staging.mkdir()
    try:
        stats = _populate(ws.objects, manifest, staging, what, link, workers)
        if target.exists():
            trash = target.parent / f".{target.name}.old-{os.urandom(4).hex()}"
            os.rename(target, trash)
            os.rename(staging, target)
            remove_tree(trash)
        else:
            os.rename(staging, target)
    except BaseException:
        remove_tree(staging)
        raise
    return stats


def _populate(objects: ObjectStore, manifest: Manifest, root: Path, what: str, link: bool,
              workers: int) -> CheckoutStats:
    dirs = {os.path.dirname(p) for p in manifest.entries} - {""}
    for d in sorted(dirs):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    can_link = [link]
    store, base = str(objects.root), str(root)
    packs = objects.packs
    packs.refresh()
    pack_fds = _PackFiles()

    def place(rel: str, e: Entry) -> int:
        """0 = hard link, 1 = copy, 2 = symlink (string paths: this runs once per file)."""
        dest = f"{base}/{rel}"
        if e.symlink is not None:
            os.symlink(e.symlink, dest)
            return 2
        oid = e.oid or ""
        packed = packs.get(oid, refresh=False)
        if packed is not None:
            if packed.size != e.size:
                raise ObjectCorrupt(f"{what}: object {oid} for {rel!r} has {packed.size} bytes, the "
                                    f"manifest says {e.size}; run `dlbench data verify`")
            _copy_range(pack_fds.get(packed.pack), dest, packed.offset, packed.size, e.executable)
            return 1
        src = f"{store}/{oid[:2]}/{oid[2:]}"
        try:
            size = os.stat(src).st_size
        except FileNotFoundError:
            raise ObjectNotFound(f"{what}: object {oid} for {rel!r} is missing from the store; "
                                 "run `dlbench data verify`") from None
        if size != e.size:
            raise ObjectCorrupt(f"{what}: object {oid} for {rel!r} has {size} bytes, the manifest "
                                f"says {e.size}; run `dlbench data verify`")
        if can_link[0] and not e.executable:
            try:
                os.link(src, dest)
                return 0
            except OSError as err:
                if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                can_link[0] = False  # another file system: copy from now on
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o555 if e.executable else 0o444)
        return 1

    def place_many(chunk: list[tuple[str, Entry]]) -> list[int]:
        return [place(rel, e) for rel, e in chunk]

    items = list(manifest.entries.items())
    chunks = [items[i:i + 256] for i in range(0, len(items), 256)]
    counts = [0, 0, 0]
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for kinds in pool.map(place_many, chunks):
                for k in kinds:
                    counts[k] += 1
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"no space left while checking out into {root.parent}: nothing was written") from None
        raise
    finally:
        pack_fds.close()
    return CheckoutStats(len(manifest), counts[0], counts[1], counts[2])


class _PackFiles:
    """One read descriptor per pack for a whole checkout (reads give their offsets, so the
    threads share them)."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, pack: str) -> int:
        fd = self._fds.get(pack)
        if fd is None:
            with self._lock:
                fd = self._fds.get(pack)
                if fd is None:
                    try:
                        fd = os.open(pack, os.O_RDONLY)
                    except FileNotFoundError:
                        raise ObjectNotFound(f"the pack {pack} went away during the checkout (a "
                                             "`dlbench data gc` rewrote it); check out again") from None
                    self._fds[pack] = fd
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _copy_range(src_fd: int, dest: str, offset: int, size: int, executable: bool) -> None:
    """A packed object as a new read-only file: the kernel copies (no bytes through Python)."""
    mode = 0o555 if executable else 0o444
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # exactly, whatever the umask
        done = 0
        while done < size:
            try:
                n = os.copy_file_range(src_fd, fd, size - done, offset + done)
            except OSError as e:  # an old kernel or a file system without it: copy through memory
                if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                n = os.write(fd, os.pread(src_fd, min(size - done, 1 << 20), offset + done))
            if n == 0:
                raise ObjectCorrupt(f"a pack ends inside the object copied to {dest!r}; run "
                                    "`dlbench data verify`")
            done += n
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Delete a checkout (its files are read-only, its folders are not)."""
    if not os.path.lexists(path):
        return

    def onerror(func, p, _exc):  # type: ignore[no-untyped-def]
        try:
            parent = os.path.dirname(p)
            os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)


def materialise(ws: Workspace, manifest_oid: str, manifest: Manifest, what: str) -> Path:
    """The shared read-only cache folder of one manifest, created on first use."""
    cache = ws.root / "cache" / "datasets"
    final = cache / manifest_oid
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".tmp-{manifest_oid[:12]}-{os.urandom(4).hex()}"
    try:
        checkout(ws, manifest, staging, what=what)
        try:
            os.rename(staging, final)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            remove_tree(staging)  # another process made it first: theirs is identical
    except BaseException:
        remove_tree(staging)
        raise
    return final
