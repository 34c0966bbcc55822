"""Disk full (ENOSPC) while storing an object, flushing a journal and ingesting the catalog:
nothing partial becomes visible, what was there stays intact, and the user is told where.

The ``small_disk`` tests fill a real tmpfs; the ``*_injected`` ones raise ENOSPC from the
system calls so the same promises are checked where a tmpfs cannot be mounted.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.errors import StorageFull
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.store import objects as objects_module
from jupyter_dlbench.tracking import doctor
from jupyter_dlbench.tracking import journal as journal_module


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*")] if root.exists() else []


def _log_until_refused(run, steps) -> list[int]:  # type: ignore[no-untyped-def]
    """Log ``steps``; the background flush may hit the full disk first, after which log()
    refuses (the user is told at once). Returns the steps that were accepted."""
    accepted = []
    for i in steps:
        try:
            run.log({"x": float(i)}, step=i)
        except StorageFull:
            continue
        accepted.append(i)
    return accepted


def test_object_write_on_a_full_disk_stores_nothing_and_says_so(small_disk, tmp_path: Path) -> None:
    ws = Workspace.find()
    kept = ws.objects.put_bytes(b"stored before the disk filled up")
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(300_000))
    small_disk.fill()
    with pytest.raises(StorageFull, match="no space left on the disk holding .*objects") as err:
        ws.objects.put_bytes(os.urandom(300_000))
    assert "free some space" in err.value.message
    with pytest.raises(StorageFull, match="weights.bin"):
        ws.objects.put_file(source)
    assert _temp_files(ws.objects.root) == [], "a partial object was left behind"
    assert list(ws.objects.iter_oids()) == [kept.oid], "only the complete object is visible"
    assert ws.objects.read_bytes(kept.oid) == b"stored before the disk filled up"
    small_disk.free()
    stored = ws.objects.put_file(source)
    assert ws.objects.verify(stored.oid)


def test_journal_flush_on_a_full_disk_refuses_logging_then_resumes_losing_nothing(small_disk) -> None:
    run = dlb.init(project="full")
    for i in range(100):
        run.log({"x": float(i)}, step=i)
    run.flush()
    journal = small_disk.root / ".dlbench" / "runs" / run.id / "journal.dlj"
    before = journal.read_bytes()
    small_disk.fill()
    accepted = _log_until_refused(run, range(100, 200))
    with pytest.raises(StorageFull, match=f"journal of run {run.id}.*kept in memory"):
        run.flush()
    with pytest.raises(StorageFull):
        run.log({"x": -1.0}, step=10_000)  # the user hears about it at the next log call
    assert journal.read_bytes() == before, "a partial record was left in the journal"
    small_disk.free()
    run.flush()  # the kept records go out now
    for i in range(200, 250):
        run.log({"x": float(i)}, step=i)
    run.finish()
    history = dlb.metrics(run.id, "x")
    expected = [*range(100), *accepted, *range(200, 250)]
    assert list(history["step"]) == expected, "points were lost or duplicated"
    assert dlb.run_info(run.id)["status"] == "finished"


def test_finishing_a_run_on_a_full_disk_says_so_or_fits_and_never_leaves_it_running(small_disk) -> None:
    """Usually the end record cannot be written: ``finish`` raises, and the run (whose liveness
    lock is released) is recorded as crashed. The record is small, though, and can still fit in
    the unused tail of the journal's last block (how full it is depends on how the flush thread
    batched the points), and then the run simply finishes. Either way every point flushed before
    the disk filled is there and the run is not left "running"."""
    run = dlb.init(project="full")
    for i in range(100):
        run.log({"x": float(i)}, step=i)
    run.flush()
    small_disk.fill()
    try:
        run.finish()
        raised = None
    except StorageFull as e:
        raised = e
    small_disk.free()
    if raised is not None:
        assert "journal" in str(raised) and "disk" in str(raised).lower(), str(raised)
    info = dlb.run_info(run.id)
    assert info["status"] == ("crashed" if raised is not None else "finished")
    assert list(dlb.metrics(run.id, "x")["step"]) == list(range(100))


def test_catalog_ingest_on_a_full_disk_keeps_the_previous_catalog(small_disk) -> None:
    with dlb.init(project="full", params={"lr": 0.1}) as first:
        for i in range(50):
            first.log({"loss": 1.0 / (i + 1)}, step=i)
    assert len(dlb.runs()) == 1
    with dlb.init(project="full", params={"lr": 0.2}) as second:
        for i in range(20_000):  # enough rows that the WAL cannot fit in the last free bytes
            second.log({"loss": float(i), "acc": float(i)}, step=i)
    small_disk.fill()
    with pytest.raises(StorageFull, match="catalog .*previous state") as err:
        dlb.runs()
    assert "rebuild" not in err.value.message, "a full disk is not a corrupt catalog"
    small_disk.free()
    frame = dlb.runs()
    assert sorted(frame["params.lr"]) == [0.1, 0.2]
    assert len(dlb.metrics(second.id, "loss")) == 20_000
    assert len(dlb.metrics(first.id, "loss")) == 50
    report = doctor.check(Workspace.find())
    assert report.ok, report.problems


def test_object_write_with_injected_enospc_stores_nothing(workspace, monkeypatch, tmp_path: Path) -> None:
    kept = workspace.objects.put_bytes(b"before")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(objects_module.os, "fsync", no_space)
    source = tmp_path / "model.pt"
    source.write_bytes(b"w" * 100_000)
    with pytest.raises(StorageFull, match="model.pt"):
        workspace.objects.put_file(source)
    with pytest.raises(StorageFull, match="no space left"):
        workspace.objects.put_bytes(b"after")
    assert _temp_files(workspace.objects.root) == []
    assert list(workspace.objects.iter_oids()) == [kept.oid]


def test_journal_flush_with_injected_short_write_and_enospc_is_rolled_back(workspace_dir: Path,
                                                                           monkeypatch) -> None:
    """A write that lands half a record and then fails must not leave that half behind."""
    monkeypatch.setenv("DLBENCH_CAPTURE_SYSTEM", "0")
    run = dlb.init(project="full")
    run.log({"x": 0.0}, step=0)
    run.flush()
    journal = workspace_dir / "runs" / run.id / "journal.dlj"
    before = journal.read_bytes()
    real_write = os.write
    calls = {"n": 0}

    def half_then_full(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[: max(1, len(data) // 2)])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal_module.os, "write", half_then_full)
    accepted = _log_until_refused(run, range(1, 1000))
    with pytest.raises(StorageFull, match="kept in memory"):
        run.flush()
    assert calls["n"] >= 2 and journal.read_bytes() == before
    monkeypatch.setattr(journal_module.os, "write", real_write)
    run.finish()
    assert list(dlb.metrics(run.id, "x")["step"]) == [0, *accepted]
