"""verify finds damaged objects; gc removes only what nothing references."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench import data
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query


def _flip_byte(path: Path, at: int = 0) -> None:
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))


def test_verify_names_the_dataset_version_and_path_of_a_flipped_byte(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {"good.txt": "fine", "bad/one.bin": os.urandom(1000)})
    v = data.add(workspace, "d", src).version
    with workspace.catalog.session() as s:
        assert data.verify(workspace, s).ok
    oid = data.versions.load_manifest(workspace, v).entries["bad/one.bin"].oid
    _flip_byte(workspace.objects.path(oid), at=500)
    with workspace.catalog.session() as s:
        report = data.verify(workspace, s)
    assert not report.ok and report.checked == 3  # two files and the manifest
    [problem] = report.problems
    assert (problem.oid, problem.problem, problem.used_by) == (oid, "corrupted", ["d@v1:bad/one.bin"])
    assert "d@v1:bad/one.bin" in problem.describe()


def test_verify_reports_a_missing_object(workspace: Workspace, make_tree) -> None:
    v = data.add(workspace, "d", make_tree("src", {"a": "1"})).version
    oid = data.versions.load_manifest(workspace, v).entries["a"].oid
    workspace.objects.path(oid).unlink()
    with workspace.catalog.session() as s:
        [problem] = data.verify(workspace, s).problems
    assert problem.problem == "missing" and problem.used_by == ["d@v1:a"]


def test_gc_keeps_everything_referenced_and_removes_an_orphan(workspace: Workspace, make_tree,
                                                              tmp_path: Path) -> None:
    v1 = data.add(workspace, "d", make_tree("src", {"a": "dataset file"})).version
    dataset_oids = data.versions.load_manifest(workspace, v1).oids() | {v1.manifest_oid}
    script = tmp_path / "train.py"
    script.write_text("print('training')\n")
    (tmp_path / "model.pt").write_bytes(b"weights")
    with dlb.init(project="p", params={"code": str(script)}) as run:
        run.log_artifact(str(tmp_path / "model.pt"))
    orphan = workspace.objects.put_bytes(b"nobody points at me").oid
    with query.catalog(workspace) as s:
        info = query.run_details(s, run.id)
        run_oids = {a["oid"] for a in info["artifacts"]} | ({info["snapshot_oid"]} - {None})
        assert run_oids
        dry = data.gc(workspace, s, dry_run=True, grace_s=0)
        assert dry.removed == [orphan] and workspace.objects.exists(orphan)
        done = data.gc(workspace, s, dry_run=False, grace_s=0)
    assert done.removed == [orphan] and not workspace.objects.exists(orphan)
    for oid in dataset_oids | run_oids:
        assert workspace.objects.exists(oid), oid


def test_gc_keeps_recent_unreferenced_objects_within_the_grace_period(workspace: Workspace) -> None:
    young = workspace.objects.put_bytes(b"just stored by an add still in progress").oid
    with workspace.catalog.session() as s:
        report = data.gc(workspace, s, dry_run=False)
    assert report.removed == [] and report.kept_recent == 1 and workspace.objects.exists(young)


@pytest.mark.parametrize("spec", ["jobs/job-1/spec.json", "sweeps/sweep-1/sweep.json"])
def test_gc_keeps_the_notebook_of_a_queued_job_or_sweep(workspace: Workspace, spec: str) -> None:
    snap = workspace.objects.put_bytes(b'{"cells": []}').oid
    (workspace.root / spec).parent.mkdir(parents=True)
    (workspace.root / spec).write_text(f'{{"snapshot_oid": "{snap}"}}')
    with workspace.catalog.session() as s:
        assert data.gc(workspace, s, dry_run=False, grace_s=0).removed == []
    assert workspace.objects.exists(snap)
