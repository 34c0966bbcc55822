"""Disk full (ENOSPC) while storing an object, flushing a journal and ingesting the catalog:
nothing partial becomes visible, what was there stays intact, and the user is told where.

The ``small_disk`` tests fill a real tmpfs; the ``*_injected`` ones raise ENOSPC from the
system calls so the same promises are checked where a tmpfs cannot be mounted.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.errors import CatalogStale, RunStateError, StorageFull
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


def test_finishing_a_run_on_a_full_disk_keeps_its_points_and_a_second_finish_writes_them(small_disk) -> None:
    """The end record and the points logged after the disk filled stay in memory: ``finish``
    raises, and once space is freed a second ``finish`` writes them and the run is finished.
    (If the flush thread batched so few points that everything fits in the unused tail of the
    journal's last block, the first ``finish`` simply succeeds; the outcome is the same.)"""
    run = dlb.init(project="full")
    for i in range(100):
        run.log({"x": float(i)}, step=i)
    run.flush()
    small_disk.fill()
    accepted = _log_until_refused(run, range(100, 3000))
    try:
        run.finish()
        raised = None
    except StorageFull as e:
        raised = e
    small_disk.free()
    if raised is not None:
        assert "journal" in str(raised) and "run.finish() again" in str(raised), str(raised)
        assert dlb.run_info(run.id)["status"] == "running", "its process still holds the points"
        run.finish()
    info = dlb.run_info(run.id)
    assert info["status"] == "finished"
    assert list(dlb.metrics(run.id, "x")["step"]) == [*range(100), *accepted]


def _no_space(calls: dict[str, int]):  # type: ignore[no-untyped-def]
    def write(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write


def _journal_steps(journal: Path) -> list[int]:
    chunk = journal_module.read_journal(journal)
    return [int(s) for b in chunk.metrics for s in b.steps]


def _flushed_run_then_disk_full(workspace_dir: Path, monkeypatch, points: int):
    """A run with ``points`` durable points, then every journal write fails with ENOSPC.
    Returns the run, its journal, the journal's bytes so far, the failed-write counter and the
    real ``os.write`` (to give the space back)."""
    monkeypatch.setenv("DLBENCH_CAPTURE_SYSTEM", "0")
    run = dlb.init(project="full")
    for i in range(points):
        run.log({"x": float(i)}, step=i)
    run.flush()
    journal = workspace_dir / "runs" / run.id / "journal.dlj"
    before = journal.read_bytes()
    real_write, calls = os.write, {"n": 0}
    monkeypatch.setattr(journal_module.os, "write", _no_space(calls))
    return run, journal, before, calls, real_write


def test_finish_with_injected_enospc_keeps_every_unflushed_point_until_a_second_finish(
        workspace_dir: Path, monkeypatch) -> None:
    run, journal, before, calls, real_write = _flushed_run_then_disk_full(workspace_dir, monkeypatch, 100)
    accepted = _log_until_refused(run, range(100, 2000))
    assert accepted, "points were logged after the disk filled"
    with pytest.raises(StorageFull, match=rf"finishing run {run.id}: .*kept in memory.*run\.finish\(\) again"):
        run.finish()
    with pytest.raises(StorageFull, match="kept in memory"):
        run.finish()  # still full: the same answer, nothing dropped
    with pytest.raises(RunStateError, match="being finished"):
        run.log({"x": -1.0}, step=99_999)
    assert journal.read_bytes() == before, "a partial record was left in the journal"
    monkeypatch.setattr(journal_module.os, "write", real_write)
    assert dlb.run_info(run.id)["status"] == "running", "not crashed: this process holds its points"
    run.finish()  # space is back: the kept points and the end record go out now
    run.finish()  # and a third call does nothing
    assert dlb.run_info(run.id)["status"] == "finished"
    assert list(dlb.metrics(run.id, "x")["step"]) == [*range(100), *accepted], "points lost or duplicated"


def test_a_failed_periodic_flush_keeps_its_points_for_the_next_attempt(workspace_dir: Path, monkeypatch) -> None:
    """No explicit flush: the background flush fails, keeps the batch, and writes it on a later
    tick once the disk takes writes again; logging is then accepted again."""
    run, journal, before, calls, real_write = _flushed_run_then_disk_full(workspace_dir, monkeypatch, 1)
    accepted = _log_until_refused(run, range(1, 500))
    deadline = time.monotonic() + 10
    while calls["n"] < 3 and time.monotonic() < deadline:  # several periodic attempts failed
        time.sleep(0.05)
    assert calls["n"] >= 3 and journal.read_bytes() == before
    with pytest.raises(StorageFull, match="kept in memory and retried"):
        run.log({"x": -1.0}, step=99_999)
    monkeypatch.setattr(journal_module.os, "write", real_write)
    deadline = time.monotonic() + 10
    while _journal_steps(journal) != [0, *accepted] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _journal_steps(journal) == [0, *accepted], "the flush thread wrote the kept batch"
    run.log({"x": 1000.0}, step=1000)  # accepted again
    run.finish()
    assert list(dlb.metrics(run.id, "x")["step"]) == [0, *accepted, 1000]


def test_reads_on_a_full_disk_show_the_catalog_as_it_was_and_say_so(small_disk) -> None:
    """Ingesting the second run cannot be written: dlb.runs(), dlb.sql() and `dlbench runs ls`
    answer from the catalog as it was, with a warning saying newer records were not ingested;
    after freeing space the next read has everything and warns no more."""
    with dlb.init(project="full", params={"lr": 0.1}) as first:
        for i in range(50):
            first.log({"loss": 1.0 / (i + 1)}, step=i)
    assert len(dlb.runs()) == 1
    with dlb.init(project="full", params={"lr": 0.2}) as second:
        for i in range(20_000):  # enough rows that the WAL cannot fit in the last free bytes
            second.log({"loss": float(i), "acc": float(i)}, step=i)
    small_disk.fill()
    stale = r"could not be ingested .*no space left on the disk holding the catalog"
    with pytest.warns(CatalogStale, match=stale) as caught:
        frame = dlb.runs()
    assert list(frame["run_id"]) == [first.id] and list(frame["params.lr"]) == [0.1]
    assert "rebuild" not in str(caught[0].message), "a full disk is not a corrupt catalog"
    with pytest.warns(CatalogStale, match=stale):
        counts = dlb.sql("select run_id, count(*) as n from metrics group by run_id")
    assert counts.to_dict("records") == [{"run_id": first.id, "n": 50}]
    done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "runs", "ls", "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert [r["run_id"] for r in json.loads(done.stdout)] == [first.id]
    assert done.stderr.startswith("dlbench: warning: newer run records could not be ingested")
    assert "Traceback" not in done.stderr
    small_disk.free()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CatalogStale)
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


AT_EXIT = """
import errno, os, sys
import jupyter_dlbench as dlb
from jupyter_dlbench.errors import StorageFull
from jupyter_dlbench.tracking import journal

run = dlb.init(project="full")
run.log({"x": 0.0}, step=0)
run.flush()
real = os.write
def no_space(fd, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
journal.os.write = no_space
accepted = 0
for i in range(1, 50):
    try:
        run.log({"x": float(i)}, step=i)
    except StorageFull:
        break
    accepted = i
try:
    run.finish()
except StorageFull:
    print(run.id, accepted, flush=True)
if sys.argv[1] == "space-back":
    journal.os.write = real
# the script ends without calling finish() again
"""


@pytest.mark.parametrize("space", ["space-back", "still-full"])
def test_a_script_that_exits_after_a_failed_finish_gets_one_more_try(workspace_dir: Path, space: str) -> None:
    done = subprocess.run([sys.executable, "-c", AT_EXIT, space], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "DLBENCH_CAPTURE_SYSTEM": "0"}, check=False)
    assert done.returncode == 0, done.stderr
    run_id, accepted = done.stdout.split()
    info = dlb.run_info(run_id)
    if space == "space-back":
        assert info["status"] == "finished"
        assert list(dlb.metrics(run_id, "x")["step"]) == list(range(int(accepted) + 1)), \
            "the kept points were written at exit"
    else:
        assert f"dlbench: run {run_id} could not be finished" in done.stderr
        assert "Traceback" not in done.stderr
        assert info["status"] == "crashed", "never left running"
        assert list(dlb.metrics(run_id, "x")["step"]) == [0], "what was flushed before is kept"
