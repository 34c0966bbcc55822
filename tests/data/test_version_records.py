"""A version is committed by its record; the catalog folds records in on its next session.

These check what a user would notice if the fold were wrong: a version missing from a listing
or from SQL right after ``add``, objects deleted by a gc run just after an add, a version lost
with the catalog, and a stat cache that cannot be read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_dlbench import data
from jupyter_dlbench.data.statcache import StatCache
from jupyter_dlbench.errors import DatasetNotFound
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query


def _files(n: int) -> dict[str, bytes]:
    return {f"d{i % 4}/f{i:03d}.bin": os.urandom(300) + i.to_bytes(4, "little") for i in range(n)}


def test_an_add_never_opens_the_catalog_yet_every_reader_sees_the_version(
        workspace: Workspace, make_tree) -> None:
    src = make_tree("src", _files(20))
    assert not workspace.catalog.exists()
    v1 = data.add(workspace, "ds", src, message="first").version
    assert not workspace.catalog.exists()  # committed by its record alone
    assert [p.name for p in (workspace.dataset_records.pending_dir).iterdir()] == ["ds@v1"]
    with query.catalog(workspace) as session:  # what `dlbench sql` and the REST API use
        rows = session.execute("SELECT name, version, file_count, message FROM dataset_versions")
        files = session.execute("SELECT count(*) FROM dataset_files WHERE version = 'v1'")[0][0]
    assert rows == [("ds", "v1", 20, "first")] and files == 20
    assert not list(workspace.dataset_records.pending_dir.iterdir())  # folded once, not again
    with workspace.catalog.session() as session:
        assert data.resolve(session, "ds").manifest_oid == v1.manifest_oid


def test_gc_right_after_an_add_folds_it_in_and_keeps_its_objects(
        workspace: Workspace, make_tree, tmp_path: Path) -> None:
    files = _files(100)
    src = make_tree("src", files)
    data.add(workspace, "ds", src)
    with query.catalog(workspace) as session:
        report = data.gc(workspace, session, dry_run=False, grace_s=0)
    assert report.removed == []
    _, stats = data.checkout_ref(workspace, "ds@v1", tmp_path / "out")
    assert stats.files == 100
    assert all((tmp_path / "out" / rel).read_bytes() == content for rel, content in files.items())


def test_versions_added_before_a_catalog_rebuild_come_back_from_their_records(
        workspace: Workspace, make_tree, write_tree) -> None:
    src = make_tree("src", _files(10))
    data.add(workspace, "ds", src)
    write_tree(src, {"d0/f000.bin": b"changed"})
    data.add(workspace, "ds", src)
    with workspace.catalog.session() as session:
        assert len(data.list_versions(session, "ds")) == 2
    for suffix in ("", ".wal"):
        Path(f"{workspace.catalog.path}{suffix}").unlink(missing_ok=True)
    with workspace.catalog.session() as session:
        assert data.versions.reindex(workspace, session) == 2
        versions = data.list_versions(session, "ds")
    assert [(v.version, v.parent) for v in versions] == [("v1", None), ("v2", "v1")]


def test_numbering_follows_the_records_even_when_the_catalog_lags(workspace: Workspace, make_tree,
                                                                   write_tree) -> None:
    src = make_tree("src", _files(5))
    data.add(workspace, "ds", src)
    write_tree(src, {"d0/f000.bin": b"two"})
    data.add(workspace, "ds", src)  # no catalog session in between: v1 is still pending
    with workspace.catalog.session() as session:
        assert [v.version for v in data.list_versions(session, "ds")] == ["v1", "v2"]


def test_a_sub_folder_reuses_the_stat_cache_of_the_folder_added_before(workspace: Workspace,
                                                                         make_tree) -> None:
    src = make_tree("src", _files(40))
    data.add(workspace, "all", src)
    result = data.add(workspace, "part", src / "d1")
    assert result.stats is not None and (result.stats.hashed, result.stats.reused) == (0, 10)


def test_an_unreadable_stat_cache_only_costs_a_full_hash(workspace: Workspace, make_tree,
                                                         write_tree) -> None:
    src = make_tree("src", _files(12))
    data.add(workspace, "ds", src)
    cache_files = list((workspace.root / "cache" / "stat").iterdir())
    assert len(cache_files) == 1
    cache_files[0].write_bytes(cache_files[0].read_bytes()[:50])  # torn, as by a crash
    write_tree(src, {"d0/f000.bin": b"new"})
    result = data.add(workspace, "ds", src)
    assert result.version.version == "v2"
    assert result.stats is not None and result.stats.hashed == 12
    again = data.add(workspace, "ds", src)  # the cache was written anew
    assert again.stats is not None and (again.stats.hashed, again.version.created) == (0, False)
    assert StatCache(workspace.root / "cache" / "stat").load(str(src.absolute()), False)


def _cache_files(ws: Workspace) -> tuple[Path, Path]:
    (base,) = [f for f in (ws.root / "cache" / "stat").iterdir() if not f.name.endswith(".delta")]
    return base, base.with_name(base.name + ".delta")


def test_a_re_add_writes_only_what_changed_to_the_stat_cache(workspace: Workspace, make_tree,
                                                              write_tree) -> None:
    src = make_tree("src", _files(40))
    data.add(workspace, "ds", src)
    base, delta = _cache_files(workspace)
    written = base.read_bytes()
    write_tree(src, {"d0/f000.bin": b"changed"})
    (src / "d1" / "f001.bin").unlink()
    second = data.add(workspace, "ds", src)
    assert second.stats is not None and (second.stats.hashed, second.stats.reused) == (1, 38)
    assert base.read_bytes() == written and delta.stat().st_size < len(written) // 10
    cached = StatCache(workspace.root / "cache" / "stat").load(str(src.absolute()), False)
    assert len(cached) == 39 and str(src.absolute() / "d1" / "f001.bin") not in cached
    third = data.add(workspace, "ds", src)  # base and delta together vouch for every file
    assert third.stats is not None and (third.stats.hashed, third.version.created) == (0, False)


def test_the_stat_cache_is_written_whole_again_once_its_delta_holds_a_quarter(
        workspace: Workspace, make_tree, write_tree) -> None:
    src = make_tree("src", _files(40))
    data.add(workspace, "ds", src)
    base, delta = _cache_files(workspace)
    write_tree(src, {f"d{i % 4}/f{i:03d}.bin": f"new {i}" for i in range(12)})
    result = data.add(workspace, "ds", src)
    assert result.stats is not None and result.stats.hashed == 12
    assert not delta.exists()
    again = data.add(workspace, "ds", src)
    assert again.stats is not None and again.stats.hashed == 0


def test_a_delta_left_from_an_older_stat_cache_is_not_applied(workspace: Workspace, make_tree,
                                                               write_tree) -> None:
    src = make_tree("src", _files(40))
    data.add(workspace, "ds", src)
    base, delta = _cache_files(workspace)
    (src / "d1" / "f001.bin").unlink()
    write_tree(src, {"d0/f000.bin": b"changed"})
    data.add(workspace, "ds", src)
    stale = delta.read_bytes()  # says f001 is gone
    write_tree(src, {"d1/f001.bin": b"back", **{f"d2/f{i:03d}.bin": f"new {i}" for i in range(2, 40, 4)}})
    data.add(workspace, "ds", src)  # 11 of 40 changed: the base is written anew, with f001
    assert not delta.exists()
    delta.write_bytes(stale)  # as if a crash had kept the old delta beside the new base
    cache = StatCache(workspace.root / "cache" / "stat")
    assert str(src.absolute() / "d1" / "f001.bin") in cache.load(str(src.absolute()), False)
    again = data.add(workspace, "ds", src)
    assert again.stats is not None and (again.stats.hashed, again.version.created) == (0, False)


def test_checkout_and_dataset_read_the_record_without_the_catalog(workspace: Workspace, make_tree,
                                                                  tmp_path: Path) -> None:
    files = _files(8)
    src = make_tree("src", files)
    data.add(workspace, "ds", src)
    info, stats = data.checkout_ref(workspace, "ds@latest", tmp_path / "out")
    ds = data.open_dataset(workspace, "ds", "v1")
    assert not workspace.catalog.exists()
    assert (info.version, stats.files, ds.version, len(ds.files)) == ("v1", 8, "v1", 8)
    assert all((tmp_path / "out" / rel).read_bytes() == content for rel, content in files.items())
    with pytest.raises(DatasetNotFound, match=r"dataset 'ds' has no version v9 \(it has v1\)"):
        data.checkout_ref(workspace, "ds@v9", tmp_path / "out2")
    with pytest.raises(DatasetNotFound, match="no dataset named 'nope'"):
        data.checkout_ref(workspace, "nope@v1", tmp_path / "out3")
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_the_fast_manifest_encoding_is_byte_identical_to_canonical_json() -> None:
    from jupyter_dlbench.data.manifest import Entry, Manifest, canonical_json

    oid = "ab" * 32
    names = ["plain.txt", 'quote"d', "back\\slash", "new\nline", "tab\t", "été/ü.csv", "emoji 🙂",
             "del\x7f", "a b/c~d", "[x]{y}", "z" * 300]
    entries = {n: Entry(oid, i * 7, i % 2 == 0) for i, n in enumerate(names)}
    entries["link"] = Entry(None, 11, False, '../target "quoted"\n')
    entries["empty"] = Entry(oid, 0, False)
    manifest = Manifest(entries)
    assert manifest.to_bytes() == canonical_json(manifest.entries)
    assert Manifest.from_bytes(manifest.to_bytes()) == manifest
    assert Manifest({}).to_bytes() == canonical_json({})
