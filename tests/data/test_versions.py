"""Adding dataset versions: numbering, dedup, the stat cache, odd file names, links, faults."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from jupyter_dlbench import data
from jupyter_dlbench.data import snapshot
from jupyter_dlbench.errors import DatasetNotFound, InvalidInput, StorageFull
from jupyter_dlbench.store import Workspace


def _files(n: int, size: int = 2000) -> dict[str, bytes]:
    return {f"part{i % 3}/f{i:03d}.bin": os.urandom(size) for i in range(n)}


def _object_count(ws: Workspace) -> int:
    return sum(1 for _ in ws.objects.iter_oids())


def test_second_version_with_one_changed_file_stores_one_new_object(workspace: Workspace, make_tree, write_tree) -> None:
    src = make_tree("src", _files(30))
    v1 = data.add(workspace, "digits", src, message="first").version
    before = _object_count(workspace)
    write_tree(src, {"part0/f000.bin": b"new content"})
    result = data.add(workspace, "digits", src, message="fix one file")
    v2 = result.version
    assert (v1.version, v2.version, v2.parent) == ("v1", "v2", "v1")
    assert v2.message == "fix one file" and v2.file_count == 30
    # one new file object plus the new manifest object
    assert _object_count(workspace) == before + 2
    assert result.stats is not None and result.stats.objects_written == 1


def test_adding_unchanged_content_returns_the_latest_version(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", _files(5))
    first = data.add(workspace, "d", src).version
    again = data.add(workspace, "d", src).version
    assert again.version == "v1" and not again.created and first.created
    with workspace.catalog.session() as s:
        assert [v.version for v in data.list_versions(s, "d")] == ["v1"]


def test_readding_after_changing_one_percent_rehashes_only_those_files(workspace: Workspace, make_tree, write_tree) -> None:
    files = _files(200, size=500)
    src = make_tree("src", files)
    first = data.add(workspace, "d", src).stats
    assert first is not None and first.hashed == 200 and first.reused == 0
    changed = sorted(files)[:2]
    write_tree(src, {rel: b"changed " + rel.encode() for rel in changed})
    second = data.add(workspace, "d", src)
    assert second.stats is not None
    assert (second.stats.hashed, second.stats.reused) == (2, 198)
    assert second.version.version == "v2"
    with workspace.catalog.session() as s:
        d = data.diff_versions(workspace, s, "d", "v1", "v2")
    assert sorted(c["path"] for c in d["modified"]) == changed


def test_stat_cache_never_reuses_an_object_gc_removed(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"a.txt": "alpha"})
    v1 = data.add(workspace, "d", src).version
    oid = data.versions.load_manifest(workspace, v1).entries["a.txt"].oid
    workspace.objects.path(oid).unlink()
    result = data.add(workspace, "other", src)
    assert result.stats is not None and result.stats.hashed == 1
    assert workspace.objects.exists(oid)


def test_unicode_space_and_newline_file_names_round_trip(workspace: Workspace, make_tree, tmp_path: Path) -> None:
    names = ["données/été 2024.csv", "with space.txt", "new\nline.txt", "emoji 🙂/x.json"]
    src = make_tree("src", {n: n.upper() for n in names})
    v = data.add(workspace, "odd", src).version
    manifest = data.versions.load_manifest(workspace, v)
    assert sorted(manifest.entries) == sorted(names)
    out = tmp_path / "out"
    data.checkout(workspace, manifest, out)
    for n in names:
        assert (out / n).read_text() == n.upper()


def test_symlinks_are_recorded_with_their_target_and_not_followed(workspace: Workspace, make_tree,
                                                                  tmp_path: Path) -> None:
    outside = make_tree("outside", {"secret.txt": "do not copy"})
    src = make_tree("src", {"real.txt": "data"})
    os.symlink("real.txt", src / "alias.txt")
    os.symlink(outside, src / "escape")  # a folder link pointing out of the dataset
    v = data.add(workspace, "links", src).version
    manifest = data.versions.load_manifest(workspace, v)
    assert set(manifest.entries) == {"real.txt", "alias.txt", "escape"}
    assert manifest.entries["alias.txt"].symlink == "real.txt"
    assert manifest.entries["escape"].symlink == str(outside)
    assert "escape/secret.txt" not in manifest.entries
    out = tmp_path / "out"
    data.checkout(workspace, manifest, out)
    assert os.readlink(out / "alias.txt") == "real.txt"
    assert (out / "alias.txt").read_text() == "data"


def test_empty_folder_is_a_valid_empty_version(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    v = data.add(workspace, "nothing", tmp_path / "empty").version
    assert (v.version, v.file_count, v.total_bytes) == ("v1", 0, 0)
    out = tmp_path / "out"
    data.checkout(workspace, data.versions.load_manifest(workspace, v), out)
    assert out.is_dir() and not any(out.iterdir())


def test_a_single_file_is_a_version_with_one_entry(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"table.csv": "a,b\n1,2\n"})
    v = data.add(workspace, "table", src / "table.csv").version
    manifest = data.versions.load_manifest(workspace, v)
    assert list(manifest.entries) == ["table.csv"] and manifest.entries["table.csv"].size == 8


def test_executable_bit_is_kept(workspace: Workspace, make_tree, tmp_path: Path) -> None:
    src = make_tree("src", {"run.sh": "#!/bin/sh\necho hi\n", "data.txt": "x"})
    os.chmod(src / "run.sh", 0o755)
    v = data.add(workspace, "tools", src).version
    out = tmp_path / "out"
    data.checkout(workspace, data.versions.load_manifest(workspace, v), out)
    assert os.access(out / "run.sh", os.X_OK) and not os.access(out / "data.txt", os.X_OK)


def test_disk_full_midway_leaves_no_partial_version(workspace: Workspace, make_tree, write_tree,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_tree("src", _files(40))
    v1 = data.add(workspace, "d", src).version
    write_tree(src, {f"new/{i}.bin": os.urandom(3000) for i in range(40)})
    real = snapshot.write_object
    calls = {"n": 0}

    def failing(objects, oid, payload, pack=None):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(objects, oid, payload, pack)

    monkeypatch.setattr(snapshot, "write_object", failing)
    with pytest.raises(StorageFull, match="full.*no version was created"):
        data.add(workspace, "d", src, workers=4)
    with pytest.raises(StorageFull):
        data.add(workspace, "fresh", src, workers=4)
    with workspace.catalog.session() as s:
        assert [v.version for v in data.list_versions(s, "d")] == ["v1"]
        assert data.resolve(s, "d").manifest_oid == v1.manifest_oid
        with pytest.raises(DatasetNotFound):
            data.resolve(s, "fresh")
    assert not list(workspace.objects.root.glob(".tmp-*"))
    monkeypatch.setattr(snapshot, "write_object", real)
    assert data.add(workspace, "d", src).version.version == "v2"  # works again once space is back


@pytest.mark.parametrize(("name", "path", "message"), [
    ("bad name", "src", "'bad name' is not a valid dataset name"),
    ("../up", "src", "is not a valid dataset name"),
    ("", "src", "is not a valid dataset name"),
    ("ok", "missing", "does not exist; give a folder or a file"),
])
def test_bad_add_input_is_a_clear_error(workspace: Workspace, make_tree, tmp_path: Path,
                                        name: str, path: str, message: str) -> None:
    make_tree("src", {"a": "1"})
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        data.add(workspace, name, tmp_path / path)


@pytest.mark.parametrize(("ref", "error", "message"), [
    ("nope@v1", DatasetNotFound, "no dataset named 'nope' \\(known datasets: d\\)"),
    ("d@v7", DatasetNotFound, "dataset 'd' has no version v7 \\(it has v1\\)"),
    ("d@seven", InvalidInput, "'seven' is not a dataset version"),
    ("d@v0", InvalidInput, "'v0' is not a dataset version"),
])
def test_unknown_names_and_versions_are_clear_errors(workspace: Workspace, make_tree, ref: str,
                                                     error: type, message: str) -> None:
    data.add(workspace, "d", make_tree("src", {"a": "1"}))
    with workspace.catalog.session() as s, pytest.raises(error, match=message):
        data.resolve(s, *data.parse_ref(ref))


def test_latest_resolves_to_the_highest_version(workspace: Workspace, make_tree, write_tree) -> None:
    src = make_tree("src", {"a": "1"})
    data.add(workspace, "d", src)
    write_tree(src, {"a": "2"})
    data.add(workspace, "d", src)
    with workspace.catalog.session() as s:
        assert data.resolve(s, *data.parse_ref("d@latest")).version == "v2"
        assert data.resolve(s, *data.parse_ref("d")).version == "v2"


def test_version_records_on_disk_rebuild_a_lost_catalog_index(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"a": "1", "b": "2"})
    v1 = data.add(workspace, "d", src, message="m").version
    with workspace.catalog.session() as s:
        s.execute("DELETE FROM dataset_version_rows")
        s.execute("DELETE FROM dataset_file_rows")
        assert data.versions.reindex(workspace, s) == 1
        again = data.resolve(s, "d", "v1")
        assert (again.manifest_oid, again.message, again.file_count) == (v1.manifest_oid, "m", 2)
        assert s.execute("SELECT count(*) FROM dataset_files WHERE name = 'd'")[0][0] == 2


def test_a_manifest_naming_an_object_that_is_gone_is_refused(workspace: Workspace, make_tree) -> None:
    from jupyter_dlbench.errors import ObjectNotFound

    v = data.add(workspace, "d", make_tree("src", {"a": "1", "b": "2"})).version
    manifest = data.versions.load_manifest(workspace, v)
    workspace.objects.path(manifest.entries["b"].oid).unlink()
    with pytest.raises(ObjectNotFound, match="refers to 1 objects that are not stored"):
        data.commit(workspace, "copy", manifest)
    with workspace.catalog.session() as s, pytest.raises(DatasetNotFound):
        data.resolve(s, "copy")


def test_same_size_rewrite_with_restored_mtime_is_still_noticed(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"a.bin": b"AAAA", "b.bin": b"BBBB"})
    data.add(workspace, "d", src)
    st = (src / "a.bin").stat()
    (src / "a.bin").write_bytes(b"ZZZZ")  # same size, then the old mtime put back (as rsync -t does)
    os.utime(src / "a.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
    result = data.add(workspace, "d", src)
    assert result.version.version == "v2"  # the changed ctime gave it away
    assert result.stats is not None and (result.stats.hashed, result.stats.reused) == (1, 1)


def test_adding_the_project_folder_leaves_out_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            write_tree) -> None:
    project = write_tree(tmp_path / "project", {"data/a.csv": "x\n1\n", "train.py": "print(1)\n"})
    monkeypatch.setenv("DLBENCH_HOME", str(project / ".dlbench"))
    ws = Workspace.find()
    v = data.add(ws, "project", project).version
    assert sorted(data.versions.load_manifest(ws, v).entries) == ["data/a.csv", "train.py"]
    with pytest.raises(InvalidInput, match="is inside the workspace"):
        data.add(ws, "objects", ws.root / "objects")


def test_metadata_that_is_not_json_is_refused_before_anything_is_committed(workspace: Workspace,
                                                                          make_tree) -> None:
    src = make_tree("src", {"a": "1"})
    with pytest.raises(InvalidInput, match="metadata must be plain JSON"):
        data.add(workspace, "d", src, metadata={"when": object()})
    assert data.add(workspace, "d", src, metadata={"source": "camera 2"}).version.metadata == {"source": "camera 2"}


def test_a_file_name_that_is_not_utf8_is_a_clear_error(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"fine.txt": "ok"})
    with open(os.path.join(os.fsencode(src), b"caf\xe9.txt"), "wb") as f:  # latin-1, not UTF-8
        f.write(b"x")
    with pytest.raises(InvalidInput, match="is not valid UTF-8; rename it"):
        data.add(workspace, "d", src)
