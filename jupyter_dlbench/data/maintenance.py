"""Integrity and space: verify stored objects, garbage-collect unreferenced ones, lineage.

gc keeps every object that anything could still need: dataset manifests and their files, run
snapshots, git diffs, package lists and artifacts (from the catalog, which the caller brings up
to date first), object ids in job specs and version metadata, and anything younger than a grace
period (an add or a run may have stored it a moment ago and not yet recorded it).
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..store import CatalogSession, Workspace

_OID_TEXT = re.compile(r"\b[0-9a-f]{64}\b")
DEFAULT_GRACE_S = 3600.0


@dataclass
class Problem:
    oid: str
    problem: str  # "missing" | "corrupted"
    used_by: list[str]  # "NAME@vN:path" (or "NAME@vN (manifest)")

    def to_json(self) -> dict[str, Any]:
        return {"oid": self.oid, "problem": self.problem, "used_by": self.used_by}

    def describe(self) -> str:
        uses = ", ".join(self.used_by[:5]) + (f" and {len(self.used_by) - 5} more" if len(self.used_by) > 5 else "")
        return f"object {self.oid[:16]}… is {self.problem}; used by {uses}"


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "problems": [p.to_json() for p in self.problems]}


def verify(ws: Workspace, session: CatalogSession, name: str | None = None, workers: int = 8) -> VerifyReport:
    """Re-hash every object used by dataset versions (or one dataset's) and name what is broken."""
    cond = "AND v.name = ?" if name else ""
    args = [name] if name else []
    uses: dict[str, list[str]] = {}
    for oid, use in session.execute(
            "SELECT f.oid, v.name || '@' || v.version || ':' || f.path FROM dataset_version_rows v "
            f"JOIN dataset_file_rows f USING (manifest_oid) WHERE f.oid IS NOT NULL {cond} ORDER BY 2", args):
        uses.setdefault(oid, []).append(use)
    for oid, ref in session.execute(
            f"SELECT manifest_oid, name || '@' || version FROM dataset_version_rows v WHERE true {cond}", args):
        uses.setdefault(oid, []).append(f"{ref} (manifest)")

    report = VerifyReport(checked=len(uses))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for oid, problem in zip(uses, pool.map(ws.objects.check, uses, chunksize=64), strict=True):
            if problem:
                report.problems.append(Problem(oid, problem, uses[oid]))
    return report


@dataclass
class GcReport:
    dry_run: bool
    referenced: int
    removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_recent: int = 0
    temp_removed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "referenced": self.referenced, "removed": self.removed,
                "count": len(self.removed), "bytes_freed": self.bytes_freed,
                "kept_recent": self.kept_recent, "temp_files_removed": self.temp_removed}


def referenced_oids(ws: Workspace, session: CatalogSession) -> set[str]:
    """Every object id something in the workspace points at."""
    refs: set[str] = set()
    queries = [
        "SELECT manifest_oid FROM dataset_version_rows",
        "SELECT DISTINCT oid FROM dataset_file_rows WHERE oid IS NOT NULL",
        "SELECT snapshot_oid FROM run_rows WHERE snapshot_oid IS NOT NULL",
        "SELECT git_diff_oid FROM run_rows WHERE git_diff_oid IS NOT NULL",
        "SELECT oid FROM artifact_rows",
    ]
    for sql in queries:
        refs.update(r[0] for r in session.execute(sql))
    # JSON columns may name objects (package lists, labels tables): any object id in them counts
    for (text,) in session.execute(
            "SELECT CAST(environment AS VARCHAR) FROM run_rows WHERE environment IS NOT NULL "
            "UNION ALL SELECT CAST(metadata AS VARCHAR) FROM dataset_version_rows WHERE metadata IS NOT NULL"):
        refs.update(_OID_TEXT.findall(text or ""))
    # queued jobs and sweeps reference notebook snapshots before any run exists
    for folder in ("jobs", "sweeps"):
        for spec in (ws.root / folder).glob("*/*.json"):
            try:
                refs.update(_OID_TEXT.findall(spec.read_text()))
            except OSError:
                continue
    return refs


def gc(ws: Workspace, session: CatalogSession, dry_run: bool = True,
       grace_s: float = DEFAULT_GRACE_S) -> GcReport:
    """Remove objects nothing references (``dry_run``: only list them).

    Call it with a catalog session that has just folded in the run journals. The dataset
    records' lock is held throughout, so no version can be committed meanwhile, and versions
    committed before it are folded into the catalog first.
    """
    with ws.dataset_records.lock():
        ws.dataset_records.fold(session)
        return _gc_locked(ws, session, dry_run, grace_s)


def _gc_locked(ws: Workspace, session: CatalogSession, dry_run: bool, grace_s: float) -> GcReport:
    refs = referenced_oids(ws, session)
    report = GcReport(dry_run=dry_run, referenced=len(refs))
    cutoff = time.time() - grace_s
    for oid in ws.objects.iter_loose():
        if oid in refs:
            continue
        path = ws.objects.path(oid)
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_mtime > cutoff:
            report.kept_recent += 1
            continue
        report.removed.append(oid)
        report.bytes_freed += st.st_size
        if not dry_run:
            path.unlink(missing_ok=True)
    _gc_packs(ws, refs, cutoff, dry_run, report)
    if ws.objects.root.is_dir():
        for tmp in ws.objects.root.glob(".tmp-*"):
            try:
                if tmp.stat().st_mtime <= cutoff:
                    report.temp_removed += 1
                    if not dry_run:
                        tmp.unlink(missing_ok=True)
            except FileNotFoundError:
                continue
    if not dry_run:
        _drop_stale_cache(ws, refs)
    return report


def _gc_packs(ws: Workspace, refs: set[str], cutoff: float, dry_run: bool, report: GcReport) -> None:
    """Unreferenced packed objects: a pack holding any is rewritten without them (a pack
    younger than the grace period is left whole, as a young object file is)."""
    removed = set(report.removed)
    for pack, records in ws.objects.packs.packs().items():
        dead = [r for r in records if r[0] not in refs]
        if not dead:
            continue
        try:
            young = os.stat(pack).st_mtime > cutoff
        except FileNotFoundError:
            continue
        if young:
            report.kept_recent += len(dead)
            continue
        for oid, _, size in dead:
            report.bytes_freed += size
            if oid not in removed:
                removed.add(oid)
                report.removed.append(oid)
        if not dry_run:
            ws.objects.repack(pack, [r for r in records if r[0] in refs])


def _drop_stale_cache(ws: Workspace, refs: set[str]) -> None:
    """Materialised copies of manifests that no longer exist are removed too."""
    from .checkout import remove_tree

    cache = ws.root / "cache" / "datasets"
    if not cache.is_dir():
        return
    for d in cache.iterdir():
        if len(d.name) == 64 and d.name not in refs:
            remove_tree(d)


def used_by(session: CatalogSession, name: str, version: str) -> list[dict[str, Any]]:
    """Runs that read (input) or produced (output) one dataset version, newest first."""
    rows = session.execute(
        "SELECT d.run_id, d.direction, d.ts, r.name, r.status, r.project FROM run_dataset_rows d "
        "LEFT JOIN run_rows r USING (run_id) WHERE d.name = ? AND d.version = ? "
        "UNION SELECT v.producer_run_id, 'output', v.created_at, r.name, r.status, r.project "
        "FROM dataset_version_rows v LEFT JOIN run_rows r ON r.run_id = v.producer_run_id "
        "WHERE v.name = ? AND v.version = ? AND v.producer_run_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM run_dataset_rows x WHERE x.run_id = v.producer_run_id "
        "AND x.name = v.name AND x.version = v.version AND x.direction = 'output') "
        "ORDER BY 3 DESC", [name, version, name, version])
    return [{"run_id": r[0], "direction": r[1], "ts": r[2], "run_name": r[3], "status": r[4], "project": r[5]}
            for r in rows]


__all__ = ["GcReport", "Problem", "VerifyReport", "gc", "referenced_oids", "used_by", "verify"]
