"""Checking versions out to folders and diffing them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jupyter_dlbench import data
from jupyter_dlbench.errors import DatasetConflict, InvalidInput
from jupyter_dlbench.store import Workspace


def _add(ws: Workspace, src: Path, name: str = "d") -> data.DatasetVersion:
    return data.add(ws, name, src).version


def test_checkout_reproduces_every_file_read_only(workspace: Workspace, make_tree, tmp_path: Path) -> None:
    files = {f"sub{i % 4}/file{i}.dat": os.urandom(100 + i) for i in range(25)}
    src = make_tree("src", files)
    v = _add(workspace, src)
    out = tmp_path / "out"
    with workspace.catalog.session() as s:
        _, stats = data.checkout_version(workspace, s, "d", "v1", out)
    assert stats.files == 25 and stats.linked + stats.copied == 25
    got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == files
    for p in out.rglob("*"):
        if p.is_file():
            assert not os.access(p, os.W_OK) or os.geteuid() == 0
            assert p.stat().st_mode & 0o222 == 0
    assert v.file_count == 25


def test_checkout_refuses_a_non_empty_folder_unless_forced(workspace: Workspace, make_tree,
                                                           tmp_path: Path) -> None:
    src = make_tree("src", {"a.txt": "new"})
    _add(workspace, src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    manifest = data.versions.load_manifest(workspace, _add(workspace, src))
    with pytest.raises(DatasetConflict, match="is not empty.*--force"):
        data.checkout(workspace, manifest, out)
    assert (out / "mine.txt").read_text() == "keep me"  # untouched
    data.checkout(workspace, manifest, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no staging left


def test_checkout_into_an_empty_existing_folder_works(workspace: Workspace, make_tree, tmp_path: Path) -> None:
    manifest = data.versions.load_manifest(workspace, _add(workspace, make_tree("src", {"a": "1"})))
    (tmp_path / "out").mkdir()
    data.checkout(workspace, manifest, tmp_path / "out")
    assert (tmp_path / "out" / "a").read_text() == "1"


def test_checkout_refuses_to_replace_the_workspace(workspace: Workspace, make_tree) -> None:
    manifest = data.versions.load_manifest(workspace, _add(workspace, make_tree("src", {"a": "1"})))
    with pytest.raises(InvalidInput, match="holds the workspace"):
        data.checkout(workspace, manifest, workspace.root.parent, force=True)


def test_checkout_copies_when_hard_links_are_off(workspace: Workspace, make_tree, tmp_path: Path) -> None:
    manifest = data.versions.load_manifest(workspace, _add(workspace, make_tree("src", {"a": "1", "b": "2"})))
    stats = data.checkout(workspace, manifest, tmp_path / "out", link=False)
    assert (stats.linked, stats.copied) == (0, 2)
    assert (tmp_path / "out" / "b").read_text() == "2"
    assert (tmp_path / "out" / "a").stat().st_ino != workspace.objects.path(manifest.entries["a"].oid).stat().st_ino


def test_diff_lists_added_removed_and_modified_with_sizes(workspace: Workspace, make_tree, write_tree,
                                                          tmp_path: Path) -> None:
    src = make_tree("src", {"keep.txt": "same", "change.txt": "old", "drop.txt": "bye", "dir/x": "1"})
    _add(workspace, src)
    (src / "drop.txt").unlink()
    write_tree(src, {"change.txt": "newer!", "added/new.txt": "hello"})
    _add(workspace, src)
    with workspace.catalog.session() as s:
        d = data.diff_versions(workspace, s, "d", "v1", "v2")
        back = data.diff_versions(workspace, s, "d", "v2", "v1")
    assert d["added"] == [{"path": "added/new.txt", "change": "added", "old_size": None, "new_size": 5}]
    assert d["removed"] == [{"path": "drop.txt", "change": "removed", "old_size": 3, "new_size": None}]
    assert d["modified"] == [{"path": "change.txt", "change": "modified", "old_size": 3, "new_size": 6}]
    assert d["summary"] == {"added": 1, "removed": 1, "modified": 1}
    assert [c["path"] for c in back["added"]] == ["drop.txt"]
    assert [c["path"] for c in back["removed"]] == ["added/new.txt"]


def test_dataset_api_materialises_into_the_shared_cache(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"x/1.txt": "one", "2.txt": "two"})
    _add(workspace, src)
    ds = data.open_dataset(workspace, "d", "latest")
    assert (ds.name, ds.version) == ("d", "v1")
    assert ds.files == ["2.txt", "x/1.txt"]
    assert ds.path == workspace.root / "cache" / "datasets" / ds.info.manifest_oid
    assert (ds.path / "x/1.txt").read_text() == "one" and ds.file("2.txt").read_text() == "two"
    assert data.open_dataset(workspace, "d", "v1").path == ds.path  # reused, not rebuilt


def test_dataset_object_checks_and_cleans_its_own_version(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"a.txt": "same", "b.txt": "same", "empty.txt": ""})
    _add(workspace, src)
    ds = data.open_dataset(workspace, "d")
    report = ds.check()
    assert report.files == 3
    assert {i.kind for i in report.issues} >= {"zero_byte_file", "duplicate_content"}
    version, _ = ds.clean()
    assert version.version == "v2" and version.parent == "v1"
    assert version.file_count < ds.info.file_count


def test_a_crafted_manifest_cannot_write_outside_the_checkout(workspace: Workspace, tmp_path: Path) -> None:
    from jupyter_dlbench.errors import ObjectCorrupt

    good = "0" * 64
    fine = {f"d/f{i}.bin": {"oid": good, "size": 1} for i in range(3)}  # bad ones hide among good
    bad_paths = ["../escape.txt", "/etc/passwd", "a/../../escape", "a//b", "a/./b", "", "a/", ".",
                 "a/..", "nul\0byte", "\ud800"]
    bad_oids = ["../../etc/passwd", "A" * 64, " " + "0" * 63, "0" * 63, "0" * 65, "g" * 64, 12]
    cases = [{**fine, p: {"oid": good, "size": 1}} for p in bad_paths]
    cases += [{**fine, "a": {"oid": o, "size": 1}} for o in bad_oids]
    for files in cases:
        raw = json.dumps({"format": 1, "files": files}).encode()
        with pytest.raises(ObjectCorrupt, match="not a valid dataset manifest"):
            data.Manifest.from_bytes(raw)
    assert len(data.Manifest.from_bytes(json.dumps({"format": 1, "files": fine}).encode())) == 3
    assert not (tmp_path / "escape.txt").exists()


def test_force_never_replaces_a_folder_holding_the_current_directory(workspace: Workspace, make_tree,
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = data.versions.load_manifest(workspace, _add(workspace, make_tree("src", {"a": "1"})))
    here = tmp_path / "project" / "notebooks"
    here.mkdir(parents=True)
    (here / "train.ipynb").write_text("{}")
    monkeypatch.chdir(here)
    with pytest.raises(DatasetConflict, match="refusing to replace"):
        data.checkout(workspace, manifest, tmp_path / "project", force=True)
    assert (here / "train.ipynb").read_text() == "{}"
