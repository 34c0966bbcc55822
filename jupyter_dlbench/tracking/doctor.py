"""Consistency checks over a workspace and the rebuild of its catalog from run journals."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CatalogCorrupt, DlbenchError
from ..store import Catalog, CatalogSession, Workspace
from ..store.lock import file_lock
from .ingest import ingest
from .journal import read_journal


@dataclass
class DoctorReport:
    runs: int = 0
    objects_checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(ws: Workspace, verify_objects: bool = False) -> DoctorReport:
    report = DoctorReport()
    try:
        with ws.catalog.session(write=True) as session:
            ing = ingest(ws, session)
            for run_id, problem in ing.problems.items():
                report.problems.append(f"run {run_id}: journal {problem}")
            for run_id in ing.crashed:
                report.notes.append(f"run {run_id} was marked crashed (its process is gone)")
            report.runs = session.execute("SELECT count(*) FROM run_rows")[0][0]
            for run_id, dropped, problem_bytes in session.execute(
                "SELECT run_id, dropped_bytes, offset_bytes FROM journal_state WHERE dropped_bytes > 0"
            ):
                why = _damage(ws, run_id, problem_bytes)
                msg = f"run {run_id}: {dropped} bytes after byte {problem_bytes} of its journal were dropped ({why})"
                if msg not in report.problems:
                    report.problems.append(msg)
            catalog_ids = {r[0] for r in session.execute("SELECT run_id FROM run_rows")}
            refs = session.execute(
                "SELECT run_id, 'notebook snapshot', snapshot_oid FROM run_rows WHERE snapshot_oid IS NOT NULL "
                "UNION ALL SELECT run_id, 'git diff', git_diff_oid FROM run_rows WHERE git_diff_oid IS NOT NULL "
                "UNION ALL SELECT run_id, 'artifact ' || path, oid FROM artifact_rows")
    except CatalogCorrupt as e:
        report.problems.append(str(e))
        return report
    on_disk = {p.name for p in ws.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")} \
        if ws.runs_dir.is_dir() else set()
    for missing in sorted(catalog_ids - on_disk):
        report.problems.append(f"run {missing} is in the catalog but its folder {ws.run_dir(missing)} is gone")
    for leftover in sorted(ws.runs_dir.glob(".tmp-*")) if ws.runs_dir.is_dir() else []:
        report.notes.append(f"{leftover.name} is an unfinished run folder from a run that never started")
    for run_id, what, oid in refs:
        report.objects_checked += 1
        if not ws.objects.exists(oid):
            report.problems.append(f"run {run_id}: {what} object {oid} is missing")
        elif verify_objects and not ws.objects.verify(oid):
            report.problems.append(f"run {run_id}: {what} object {oid} is corrupted (content does not match its hash)")
    return report


def _damage(ws: Workspace, run_id: str, offset: int) -> str:
    """Why a journal stops being readable at ``offset``: a named corruption, or a torn tail.

    A torn tail (an interrupted last write) is expected after a kill; a checksum mismatch in
    the middle means the file was damaged after it was written, and the user should know which.
    """
    try:
        chunk = read_journal(ws.run_dir(run_id) / "journal.dlj", offset)
    except OSError as e:
        return f"the journal cannot be read: {e.strerror}"
    if chunk.problem:
        return f"damaged: {chunk.problem}"
    return "torn tail"


@dataclass
class RebuildReport:
    runs: int
    params: int
    metric_points: int
    artifacts: int
    previous: Path | None
    problems: dict[str, str]


def rebuild(ws: Workspace, also: Callable[[Workspace, CatalogSession], Any] | None = None) -> RebuildReport:
    """Build a new catalog from the run folders beside the old one, then swap it in.

    The old file is kept as ``catalog.duckdb.old-<time>`` so nothing is destroyed by a rebuild.
    ``also`` restores what other layers keep outside run folders (dataset versions, from their
    records) into the new catalog before the swap, so no reader ever sees it without them.
    """
    target = ws.catalog.path
    tmp = target.with_name(f"catalog.rebuild-{os.getpid()}.duckdb")
    tmp.unlink(missing_ok=True)
    with file_lock(ws.catalog.lock_path, exclusive=True, timeout=ws.catalog.lock_timeout):
        fresh = Catalog(tmp, target.with_name(f"{tmp.name}.lock"), ws.catalog.lock_timeout)
        try:
            with fresh.session(write=True) as session:
                result = ingest(ws, session)
                if also is not None:
                    also(ws, session)
                counts = [session.execute(f"SELECT count(*) FROM {t}")[0][0]
                          for t in ("run_rows", "param_rows", "metric_rows", "artifact_rows")]
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            fresh.lock_path.unlink(missing_ok=True)
        previous = None
        if target.exists():
            previous = target.with_name(f"{target.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(target, previous)
            wal = target.with_name(target.name + ".wal")
            if wal.exists():
                os.replace(wal, previous.with_name(previous.name + ".wal"))
        os.replace(tmp, target)
    return RebuildReport(*counts, previous, result.problems)


__all__ = ["DlbenchError", "DoctorReport", "RebuildReport", "check", "rebuild"]
