"""Many small files are stored in one pack: every way to read, check, collect and check out
a dataset works on packed objects as on object files."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench import data
from jupyter_dlbench.data import snapshot
from jupyter_dlbench.errors import StorageFull
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.store.packs import PACK_MAX_OBJECT


def _files(n: int, size: int = 3000, prefix: str = "f") -> dict[str, bytes]:
    return {f"{prefix}/{i:03d}.bin": os.urandom(size) for i in range(n)}


def _packs(ws: Workspace) -> list[Path]:
    folder = ws.objects.root / "packs"
    return sorted(folder.glob("*.pack")) if folder.is_dir() else []


def _loose(ws: Workspace) -> list[str]:
    return list(ws.objects.iter_loose())


def test_an_add_of_many_small_files_writes_one_pack_and_every_read_finds_them(
        workspace: Workspace, make_tree, tmp_path: Path) -> None:
    files = _files(150)
    files["big.bin"] = os.urandom(PACK_MAX_OBJECT + 10)  # too big for a pack: a file of its own
    src = make_tree("src", files)
    result = data.add(workspace, "d", src)
    assert result.stats.objects_written == 151
    assert len(_packs(workspace)) == 1
    manifest = data.versions.load_manifest(workspace, result.version)
    assert _loose(workspace) == [manifest.entries["big.bin"].oid] or \
        set(_loose(workspace)) == {manifest.entries["big.bin"].oid, result.version.manifest_oid}
    some = manifest.entries["f/007.bin"].oid
    assert workspace.objects.read_bytes(some) == files["f/007.bin"]
    assert workspace.objects.exists(some) and workspace.objects.size(some) == 3000
    assert len(set(workspace.objects.iter_oids())) >= 151

    stats = data.checkout(workspace, manifest, tmp_path / "out")
    assert (stats.copied, stats.linked) == (150, 1)
    for rel, content in files.items():
        out = tmp_path / "out" / rel
        assert out.read_bytes() == content, rel
        assert out.stat().st_mode & 0o222 == 0, "checked-out files are read-only"

    ds = dlb.dataset("d", "v1")
    assert (ds.path / "f/149.bin").read_bytes() == files["f/149.bin"]
    # a caller that needs a file of its own gets the packed object written out as one
    assert workspace.objects.file(some).read_bytes() == files["f/007.bin"]


def test_the_same_files_elsewhere_are_found_in_the_pack_and_not_written_again(
        workspace: Workspace, make_tree) -> None:
    files = _files(100)
    first = data.add(workspace, "d", make_tree("src", files)).version
    again = data.add(workspace, "e", make_tree("copy", files), workers=2)  # new paths: hashed afresh
    assert again.stats is not None and again.stats.hashed == 100 and again.stats.objects_written == 0
    assert len(_packs(workspace)) == 1
    assert again.version.manifest_oid == first.manifest_oid


def test_verify_names_a_flipped_byte_inside_a_pack_and_a_lost_pack(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", _files(80))
    v = data.add(workspace, "d", src).version
    with workspace.catalog.session() as s:
        assert data.verify(workspace, s).ok
    [pack] = _packs(workspace)
    manifest = data.versions.load_manifest(workspace, v)
    where = workspace.objects.packs.get(manifest.entries["f/010.bin"].oid)
    assert where is not None
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as f:
        f.seek(where.offset + 100)
        byte = f.read(1)
        f.seek(where.offset + 100)
        f.write(bytes([byte[0] ^ 1]))
    with workspace.catalog.session() as s:
        report = data.verify(workspace, s)
    assert [(p.problem, p.used_by) for p in report.problems] == [("corrupted", ["d@v1:f/010.bin"])]
    pack.unlink()
    pack.with_suffix(".idx").unlink()
    with workspace.catalog.session() as s:
        report = data.verify(workspace, s)
    assert len(report.problems) == 80 and {p.problem for p in report.problems} == {"missing"}


def test_gc_rewrites_a_pack_without_its_unreferenced_objects_and_keeps_the_rest_readable(
        workspace: Workspace, make_tree, tmp_path: Path) -> None:
    files = _files(100)
    everything = make_tree("all", files)
    # stored but never committed (as an add that died before its commit): 100 packed orphans
    snapshot.snapshot(workspace.objects, everything, None, progress=False)
    kept = make_tree("kept", dict(list(files.items())[:70]))
    v = data.add(workspace, "d", kept).version  # its 70 objects are already in that pack
    [old_pack] = _packs(workspace)
    with workspace.catalog.session() as s:
        dry = data.gc(workspace, s, dry_run=True, grace_s=0)
        assert len(dry.removed) == 30 and dry.bytes_freed == 30 * 3000
        assert _packs(workspace) == [old_pack], "a dry run changes nothing"
        done = data.gc(workspace, s, dry_run=False, grace_s=0)
    assert sorted(done.removed) == sorted(dry.removed)
    [new_pack] = _packs(workspace)
    assert new_pack != old_pack and not old_pack.exists() and new_pack.stat().st_size == 70 * 3000
    for oid in done.removed:
        assert not workspace.objects.exists(oid)
    manifest = data.versions.load_manifest(workspace, v)
    data.checkout(workspace, manifest, tmp_path / "out")
    for rel, content in list(files.items())[:70]:
        assert (tmp_path / "out" / rel).read_bytes() == content
    with workspace.catalog.session() as s:
        assert data.verify(workspace, s).ok
        assert data.gc(workspace, s, dry_run=False, grace_s=0).removed == []


def test_gc_keeps_a_young_pack_whole(workspace: Workspace, make_tree) -> None:
    snapshot.snapshot(workspace.objects, make_tree("all", _files(70)), None, progress=False)
    with workspace.catalog.session() as s:
        report = data.gc(workspace, s, dry_run=False)
    assert report.removed == [] and report.kept_recent == 70 and len(_packs(workspace)) == 1


def test_disk_full_while_writing_a_pack_publishes_nothing(workspace: Workspace, make_tree,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_tree("src", _files(120))
    real = snapshot.PackWriter.add
    calls = {"n": 0}

    def failing(self, oid, payload):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 60:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, oid, payload)

    monkeypatch.setattr(snapshot.PackWriter, "add", failing)
    with pytest.raises(StorageFull, match="no version was created"):
        data.add(workspace, "d", src, workers=2)
    assert _packs(workspace) == [] and not list(workspace.objects.root.glob(".tmp-*"))
    assert list(workspace.objects.iter_oids()) == []
    monkeypatch.setattr(snapshot.PackWriter, "add", real)
    assert data.add(workspace, "d", src).version.version == "v1"


def test_a_store_opened_earlier_finds_a_pack_published_within_the_same_clock_tick(
        workspace: Workspace, make_tree) -> None:
    from jupyter_dlbench.store import ObjectStore

    data.add(workspace, "a", make_tree("a", _files(70, prefix="a")))
    other = ObjectStore(workspace.objects.root)  # another process's view, say the Jupyter server's
    assert other.packs.get("0" * 64) is None  # it has looked at the packs folder just now
    folder = workspace.objects.root / "packs"
    seen = os.stat(folder)
    files = _files(70, prefix="b")
    v = data.add(workspace, "b", make_tree("b", files)).version
    # file-system clocks tick coarsely: as if that pack came within the tick of the last look
    os.utime(folder, ns=(seen.st_atime_ns, seen.st_mtime_ns))
    manifest = data.versions.load_manifest(workspace, v)
    assert other.read_bytes(manifest.entries["b/069.bin"].oid) == files["b/069.bin"]
