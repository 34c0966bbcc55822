"""Files above ``snapshot.SMALL`` are streamed: hashed here while a helper thread writes them."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import blake3
import pytest

from jupyter_dlbench import data
from jupyter_dlbench.data import snapshot
from jupyter_dlbench.errors import StorageFull
from jupyter_dlbench.store import Workspace

# over the one-read limit, and not a whole number of chunks: the last chunk is a short one
SIZE = snapshot.SMALL + 3 * snapshot.CHUNK // 2 + 12345


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "weights.bin"
    path.parent.mkdir()
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(SIZE // len(block) + 1):
            f.write(i.to_bytes(4, "little") + block[4:])  # every MiB differs
        f.truncate(SIZE)
    os.utime(path, (1_600_000_000, 1_600_000_000))
    return path


def test_a_large_file_is_stored_byte_for_byte_under_its_hash(workspace: Workspace, big_file: Path,
                                                            tmp_path: Path) -> None:
    v = data.add(workspace, "weights", big_file.parent, progress=False).version
    expected = blake3.blake3(big_file.read_bytes()).hexdigest()
    with workspace.catalog.session(write=True) as session:
        manifest = data.versions.load_manifest(workspace, data.resolve(session, "weights", v.version))
    assert manifest.entries["weights.bin"].oid == expected and v.total_bytes == SIZE
    stored = workspace.objects.path(expected)
    assert stored.read_bytes() == big_file.read_bytes() and stored.stat().st_mode & 0o777 == 0o444
    data.checkout_ref(workspace, "weights@v1", tmp_path / "out")
    assert (tmp_path / "out" / "weights.bin").read_bytes() == big_file.read_bytes()
    with workspace.catalog.session(write=True) as session:
        assert data.verify(workspace, session, name="weights").ok


def test_disk_full_while_writing_a_large_file_leaves_no_object_and_no_version(
        workspace: Workspace, big_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write, calls = os.write, {"n": 0}

    def write(fd: int, buf) -> int:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:  # the third chunk: the writer thread fails midway through the file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, buf)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(StorageFull, match="no version was created"):
        data.add(workspace, "weights", big_file.parent, progress=False)
    monkeypatch.setattr(os, "write", real_write)
    assert list(workspace.objects.root.glob(".tmp-*")) == []
    assert list(workspace.objects.root.glob("*/*")) == []
    with workspace.catalog.session(write=True) as session:
        assert session.execute("SELECT count(*) FROM dataset_version_rows")[0][0] == 0


def _stored_exactly(workspace: Workspace, path: Path) -> None:
    expected = blake3.blake3(path.read_bytes()).hexdigest()
    assert workspace.objects.path(expected).read_bytes() == path.read_bytes()
    assert list(workspace.objects.root.glob(".tmp-*")) == []


def _direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0))


def test_a_large_file_goes_to_disk_without_the_page_cache_where_the_file_system_allows(
        workspace: Workspace, big_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = workspace.objects.root / ".probe"
    workspace.objects.root.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | getattr(os, "O_DIRECT", 0)))
    except OSError:
        pytest.skip(f"the file system under {workspace.root} refuses O_DIRECT: the page-cache path "
                    "is tested below")
    finally:
        probe.unlink(missing_ok=True)
    real_write, direct_writes = os.write, []

    def write(fd: int, buf) -> int:  # type: ignore[no-untyped-def]
        if len(buf) >= 1 << 20:  # the big file's chunks (the manifest and record are small)
            direct_writes.append(_direct(fd))
        return real_write(fd, buf)

    monkeypatch.setattr(os, "write", write)
    data.add(workspace, "weights", big_file.parent, progress=False)
    monkeypatch.setattr(os, "write", real_write)
    assert len(direct_writes) == 4 and all(direct_writes)  # SIZE is four chunks
    _stored_exactly(workspace, big_file)


def test_a_file_system_that_refuses_direct_io_at_open_gets_the_page_cache_path(
        workspace: Workspace, big_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def no_direct(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flags & getattr(os, "O_DIRECT", 0):
            fd = real_open(path, flags & ~os.O_DIRECT, *args, **kwargs)  # created, then refused
            os.close(fd)
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_direct)
    data.add(workspace, "weights", big_file.parent, progress=False)
    monkeypatch.setattr(os, "open", real_open)
    _stored_exactly(workspace, big_file)


def test_a_refused_first_direct_write_starts_the_file_again_through_the_page_cache(
        workspace: Workspace, big_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def refuse_direct(fd: int, buf) -> int:  # type: ignore[no-untyped-def]
        if _direct(fd):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_write(fd, buf)

    monkeypatch.setattr(os, "write", refuse_direct)
    result = data.add(workspace, "weights", big_file.parent, progress=False)
    monkeypatch.setattr(os, "write", real_write)
    _stored_exactly(workspace, big_file)  # hashed from its first byte again, not from where it stopped
    assert result.stats is not None and result.stats.bytes_hashed == SIZE


def test_a_large_file_of_whole_chunks_is_stored_exactly(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "src" / "shard.bin"
    path.parent.mkdir()
    path.write_bytes(os.urandom(3 * snapshot.CHUNK))  # no short last chunk, no padding
    data.add(workspace, "shards", path.parent, progress=False)
    _stored_exactly(workspace, path)
