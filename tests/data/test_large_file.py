"""Files above ``snapshot.SMALL`` are streamed: hashed here while a helper thread writes them."""

from __future__ import annotations

import errno
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
