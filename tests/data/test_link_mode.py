"""`dlbench data add --link`: new objects are hard links to the user's files, which become
read-only; everything that reads the store works on them as on copies."""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_dlbench import data
from jupyter_dlbench.cli import main
from jupyter_dlbench.data import snapshot
from jupyter_dlbench.errors import DatasetNotFound, StorageFull
from jupyter_dlbench.store import Workspace

BIG = snapshot.SMALL + 4096  # streamed, never held in memory


def _files(n: int = 100) -> dict[str, bytes]:
    files = {f"small/{i:03d}.bin": os.urandom(2000) for i in range(n)}
    files["big.bin"] = os.urandom(BIG)
    return files


def _packs(ws: Workspace) -> list[Path]:
    folder = ws.objects.root / "packs"
    return sorted(folder.glob("*.pack")) if folder.is_dir() else []


def _manifest(ws: Workspace, version: data.DatasetVersion) -> data.Manifest:
    return data.versions.load_manifest(ws, version)


def test_a_linked_add_stores_every_file_as_a_read_only_hard_link_and_writes_no_pack(
        workspace: Workspace, make_tree) -> None:
    files = _files()
    src = make_tree("src", files)
    result = data.add(workspace, "d", src, link=True)
    assert result.stats is not None
    assert (result.stats.linked, result.stats.copied_instead) == (101, 0)
    assert _packs(workspace) == []
    manifest = _manifest(workspace, result.version)
    for rel in files:
        mine, stored = os.stat(src / rel), os.stat(workspace.objects.path(manifest.entries[rel].oid))
        assert (mine.st_ino, mine.st_dev) == (stored.st_ino, stored.st_dev), rel
        assert mine.st_nlink == 2, rel
        assert mine.st_mode & 0o222 == 0, f"{rel} should be read-only now"
    assert not list(workspace.objects.root.glob(".tmp-*"))


def test_a_linked_version_checks_out_byte_exact_and_verifies(workspace: Workspace, make_tree,
                                                             tmp_path: Path) -> None:
    files = _files()
    v = data.add(workspace, "d", make_tree("src", files), link=True).version
    data.checkout(workspace, _manifest(workspace, v), tmp_path / "out")
    for rel, content in files.items():
        assert (tmp_path / "out" / rel).read_bytes() == content, rel
    with workspace.catalog.session() as s:
        report = data.verify(workspace, s)
    assert report.ok and report.checked == 102  # 101 files and the manifest


@pytest.mark.parametrize("link_again", [True, False])
def test_re_adding_an_unchanged_linked_folder_hashes_nothing(workspace: Workspace, make_tree,
                                                             link_again: bool) -> None:
    src = make_tree("src", _files(20))
    first = data.add(workspace, "d", src, link=True)
    again = data.add(workspace, "d", src, link=link_again)
    assert again.version.created is False and again.version.version == first.version.version
    assert again.stats is not None
    assert (again.stats.hashed, again.stats.reused, again.stats.linked) == (0, 21, 0)


def test_a_checkout_of_a_linked_version_does_not_make_the_next_add_hash_again(
        workspace: Workspace, make_tree, tmp_path: Path) -> None:
    src = make_tree("src", _files(20))
    v = data.add(workspace, "d", src, link=True).version
    before = os.stat(next(src.rglob("*.bin"))).st_ctime_ns
    data.checkout(workspace, _manifest(workspace, v), tmp_path / "out")  # hard links: ctime moves
    assert os.stat(next(src.rglob("*.bin"))).st_ctime_ns != before
    for _ in range(2):  # and the refreshed cache holds on the add after
        again = data.add(workspace, "d", src)
        assert again.stats is not None and (again.stats.hashed, again.version.created) == (0, False)


def test_a_file_whose_content_is_already_stored_is_not_linked(workspace: Workspace, make_tree) -> None:
    content = os.urandom(5000)
    data.add(workspace, "first", make_tree("a", {"x.bin": content}))
    other = make_tree("b", {"same.bin": content, "new.bin": b"only here"})
    result = data.add(workspace, "second", other, link=True)
    assert result.stats is not None and result.stats.linked == 1
    same = os.stat(other / "same.bin")
    assert same.st_nlink == 1 and same.st_mode & 0o200, "a deduplicated file is left as it was"
    assert os.stat(other / "new.bin").st_nlink == 2


def test_two_identical_new_files_in_one_add_link_only_one(workspace: Workspace, make_tree) -> None:
    twin = os.urandom(3000)
    src = make_tree("src", {"a.bin": twin, "b.bin": twin})
    result = data.add(workspace, "d", src, link=True)
    assert result.stats is not None and result.stats.linked == 1
    assert sorted(os.stat(src / n).st_nlink for n in ("a.bin", "b.bin")) == [1, 2]


def test_writing_to_a_linked_file_in_place_is_reported_by_verify(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"keep.bin": os.urandom(1000), "edit.bin": os.urandom(1000)})
    v = data.add(workspace, "d", src, link=True).version
    oid = _manifest(workspace, v).entries["edit.bin"].oid
    os.chmod(src / "edit.bin", 0o644)  # what the read-only mode is there to stop
    with open(src / "edit.bin", "r+b") as f:
        f.write(b"oops")
    with workspace.catalog.session() as s:
        [problem] = data.verify(workspace, s).problems
    assert (problem.oid, problem.problem, problem.used_by) == (oid, "corrupted", ["d@v1:edit.bin"])


def test_executable_and_private_files_only_lose_their_write_bits(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"run.sh": "#!/bin/sh\n", "secret.txt": "mine"})
    os.chmod(src / "run.sh", 0o755)
    os.chmod(src / "secret.txt", 0o600)
    data.add(workspace, "d", src, link=True)
    assert (os.stat(src / "run.sh").st_mode & 0o777, os.stat(src / "secret.txt").st_mode & 0o777) == \
        (0o555, 0o400)


@pytest.fixture
def shm_dir(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm on this machine: cannot put the data on another file system")
    if os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip(f"/dev/shm and {tmp_path} are on the same file system: linking would not fail")
    folder = shm / f"dlbench-test-{uuid.uuid4().hex[:8]}"
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_files_on_another_file_system_are_copied_and_left_writable(workspace: Workspace, write_tree,
                                                                   shm_dir: Path) -> None:
    files = _files(80)
    src = write_tree(shm_dir, files)
    result = data.add(workspace, "d", src, link=True)
    assert result.stats is not None
    assert (result.stats.linked, result.stats.copied_instead) == (0, 81)
    for rel in files:
        st = os.stat(src / rel)
        assert st.st_nlink == 1 and st.st_mode & 0o200, rel
    manifest = _manifest(workspace, result.version)
    assert workspace.objects.read_bytes(manifest.entries["big.bin"].oid) == files["big.bin"]
    with workspace.catalog.session() as s:
        assert data.verify(workspace, s).ok


def test_a_file_the_system_refuses_to_link_is_copied(workspace: Workspace, make_tree,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # fs.protected_hardlinks refuses to link another user's file with EPERM; as root (tests in
    # containers) it never does, so link(2) is made to answer as it would
    files = {"a.bin": os.urandom(100), "big.bin": os.urandom(BIG)}
    src = make_tree("src", files)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    result = data.add(workspace, "d", src, link=True)
    assert result.stats is not None and (result.stats.linked, result.stats.copied_instead) == (0, 2)
    assert all(os.stat(src / rel).st_mode & 0o200 for rel in files)
    manifest = _manifest(workspace, result.version)
    assert workspace.objects.read_bytes(manifest.entries["big.bin"].oid) == files["big.bin"]


def test_a_full_disk_during_a_linked_add_leaves_no_version_no_links_and_writable_files(
        workspace: Workspace, make_tree, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_tree("src", _files(40))
    real = os.link
    calls = {"n": 0}

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "link", failing)
    with pytest.raises(StorageFull, match="no version was created"):
        data.add(workspace, "d", src, link=True, workers=4)
    assert not list(workspace.objects.root.glob(".tmp-*"))
    for p in src.rglob("*.bin"):
        st = os.stat(p)
        assert st.st_nlink == 1 and st.st_mode & 0o200, p
    with workspace.catalog.session() as s, pytest.raises(DatasetNotFound):
        data.resolve(s, "d")


def test_the_cli_flag_links_and_says_the_files_are_now_read_only(
        workspace_dir: Path, make_tree, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_tree("src", {"a.txt": "one", "b/c.txt": "two"})
    assert main(["data", "add", "ds", str(src), "--link", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stats"]["linked"] == 2 and out["stats"]["copied_instead"] == 0
    other = make_tree("other", {"d.txt": "three"})
    assert main(["data", "add", "ds2", str(other), "--link", "-q"]) == 0
    assert "linked 1 files into the store; they are now read-only" in capsys.readouterr().out
