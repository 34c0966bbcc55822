"""Fold new journal bytes into the catalog, in bulk and idempotently.

Each run's journal offset is stored in the same transaction as the rows read from it, so an
interrupted ingest is simply redone. Runs still open are checked for liveness: a run whose
process is gone without an ``end`` record is marked ``crashed`` — never left ``running``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import settings
from ..store import CatalogSession, Workspace
from ..store.lock import held_by_someone
from .journal import JournalChunk, MetricBatch, read_journal
from .outputs import file_tail
from .values import param_row

RUN_COLUMNS = [
    "run_id", "project", "name", "status", "started_at", "ended_at", "closed", "last_seen",
    "hostname", "pid", "username", "notebook_path", "snapshot_oid", "git_commit", "git_dirty",
    "git_diff_oid", "python_version", "cuda_visible_devices", "error", "output_tail",
    "environment", "hardware", "tags", "job_id", "executor", "queued_at",
]
RUN_TYPES = {
    "started_at": pa.float64(), "ended_at": pa.float64(), "last_seen": pa.float64(),
    "closed": pa.bool_(), "git_dirty": pa.bool_(), "pid": pa.int64(), "queued_at": pa.float64(),
}


@dataclass
class IngestReport:
    runs_read: int = 0
    records: int = 0
    metric_points: int = 0
    crashed: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


def run_alive(run_dir: Path) -> bool:
    """True while the run's process holds its liveness lock (released by the OS on death)."""
    return held_by_someone(run_dir / "alive.lock")


class _Fold:
    """Accumulates rows for one ingest transaction."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.params: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.artifacts: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.datasets: dict[tuple[str, str, str, str], tuple[Any, ...]] = {}
        self.metric_tables: list[pa.Table] = []
        self.offsets: dict[str, tuple[int, int, int]] = {}

    def apply(self, row: dict[str, Any], chunk: JournalChunk) -> None:
        run_id = row["run_id"]
        for ev in chunk.events:
            kind = ev.get("t")
            ts = ev.get("ts")
            if isinstance(ts, (int, float)):
                row["last_seen"] = max(row.get("last_seen") or 0.0, float(ts))
            if kind == "start":
                row.update(
                    project=ev.get("project"), name=ev.get("name"), status="running",
                    started_at=ev.get("ts"), closed=False, hostname=ev.get("hostname"),
                    pid=ev.get("pid"), username=ev.get("user"), notebook_path=ev.get("code_path"),
                    python_version=ev.get("python"),
                    cuda_visible_devices=ev.get("cuda_visible_devices"),
                    tags=_json(ev.get("tags") or []), job_id=ev.get("job_id"),
                    executor=ev.get("executor"), queued_at=ev.get("queued_at"),
                )
            elif kind == "environment":
                git = ev.get("git") or {}
                row.update(
                    environment=_json(ev.get("environment") | {"packages_oid": ev.get("packages_oid")}),
                    hardware=_json(ev.get("hardware")), snapshot_oid=ev.get("snapshot_oid"),
                    git_commit=git.get("commit"), git_dirty=git.get("dirty"),
                    git_diff_oid=git.get("diff_oid"),
                )
            elif kind == "params":
                for key, (value, source) in ev.get("params", {}).items():
                    text, num, vtype = param_row(value)
                    self.params[(run_id, key)] = (run_id, key, text, num, vtype, source)
            elif kind == "artifact":
                self.artifacts[(run_id, ev["path"])] = (
                    run_id, ev["path"], ev["oid"], ev["size"], ev.get("kind", "file"), ev.get("ts"))
            elif kind == "dataset":  # a dataset version the run read (input) or wrote (output)
                key = (run_id, ev["name"], ev["version"], ev["direction"])
                self.datasets.setdefault(key, (*key, ev.get("ts")))
            elif kind == "status":
                row.update(status=ev["status"], error=ev.get("error"))
            elif kind == "placement":  # where a remote executor actually ran the run
                row.update(hostname=ev.get("host") or row.get("hostname"),
                           cuda_visible_devices=ev.get("cuda_visible_devices"))
            elif kind == "tags":
                row["tags"] = _json(ev.get("tags") or [])
            elif kind == "identity":  # a job's kernel named the run's project in dlb.init()
                row["project"] = ev.get("project") or row.get("project")
            elif kind == "end":
                row.update(status=ev["status"], ended_at=ev.get("ts"), closed=True,
                           output_tail=ev.get("output_tail"))
                if ev.get("error"):
                    row["error"] = ev["error"]
        for batch in chunk.metrics:
            self.metric_tables.append(_metric_table(run_id, batch))
            if len(batch.ts):
                row["last_seen"] = max(row.get("last_seen") or 0.0, float(batch.ts.max()))


def _metric_table(run_id: str, batch: MetricBatch) -> pa.Table:
    keys = pa.DictionaryArray.from_arrays(pa.array(batch.key_idx, pa.int32()), _utf8_array(batch.keys, pa.string()))
    n = len(batch.steps)
    return pa.table({
        "run_id": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(n, dtype=np.int32)), pa.array([run_id], pa.string())).cast(pa.string()),
        "key": keys.cast(pa.string()),
        "step": pa.array(batch.steps, pa.int64()),
        "value": pa.array(batch.values, pa.float64()),
        "ts": pa.array(batch.ts, pa.float64()),
    })


def _empty_row(run_id: str, run_dir: Path) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(RUN_COLUMNS)
    row.update(run_id=run_id, status="running", closed=False, project="default", name=run_id)
    return row


def ingest(ws: Workspace, session: CatalogSession, run_ids: list[str] | None = None) -> IngestReport:
    """Bring the catalog up to date with the run folders (all, or only ``run_ids``)."""
    report = IngestReport()
    if not session.writable:
        return report
    open_runs = {r[0] for r in session.execute("SELECT run_id FROM run_rows WHERE NOT closed")}
    try:
        names = [e.name for e in os.scandir(ws.runs_dir) if e.is_dir() and not e.name.startswith(".")]
    except FileNotFoundError:
        names = []
    if run_ids is not None:
        wanted = set(run_ids)
        names = [n for n in names if n in wanted]
    # folders the catalog has never read, found inside DuckDB: on every read of a workspace
    # with 10,000 runs, fetching all journal offsets into Python cost more than this join
    folders = _utf8_array(names, pa.string())
    session.register("_folder_names", pa.table({"run_id": folders}))
    try:
        unseen = {r[0] for r in session.execute(
            "SELECT f.run_id FROM _folder_names f ANTI JOIN journal_state j USING (run_id)")}
    finally:
        session.unregister("_folder_names")
    if len(unseen) and folders.to_pylist() != names:  # a name stored in its escaped form
        unseen = {n for n, stored in zip(names, folders.to_pylist(), strict=True) if stored in unseen}
    todo = [n for n in names if n in unseen or n in open_runs]
    if not todo:
        return report
    state = {r[0]: (r[1], r[2]) for r in session.execute(
        "SELECT run_id, offset_bytes, records FROM journal_state WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
        [_utf8_array(todo, pa.string()).to_pylist()])}
    offsets = {k: v[0] for k, v in state.items()}
    existing = {}
    if any(n in offsets for n in todo):
        cols = ", ".join(RUN_COLUMNS)
        for values in session.execute(
            f"SELECT {cols} FROM run_rows WHERE run_id IN (SELECT unnest(?))", [todo]
        ):
            existing[values[0]] = dict(zip(RUN_COLUMNS, values, strict=True))
    fold = _Fold()
    here = socket.gethostname()
    now = time.time()
    for run_id in todo:
        run_dir = ws.run_dir(run_id)
        journal = run_dir / "journal.dlj"
        if not journal.exists():
            continue
        row = existing.get(run_id) or _empty_row(run_id, run_dir)
        offset = offsets.get(run_id, 0)
        chunk = read_journal(journal, offset)
        fold.apply(row, chunk)
        records = chunk.records
        dropped = 0
        if not row.get("closed"):
            local = row.get("hostname") in (None, here)
            alive = run_alive(run_dir) if local else (now - (row.get("last_seen") or 0)) < settings.stale_heartbeat_after()
            if not alive:
                # the writer is gone: whatever it appended since our read is final now
                more = read_journal(journal, chunk.end) if chunk.end else chunk
                if more is not chunk:
                    fold.apply(row, more)
                    records += more.records
                    chunk = JournalChunk(start=chunk.start, end=more.end, records=chunk.records + more.records,
                                         trailing_bytes=more.trailing_bytes, problem=more.problem)
                if not row.get("closed"):
                    row.update(status="crashed", closed=True, ended_at=row.get("last_seen"),
                               error=row.get("error") or "the run's process ended without finishing "
                               "the run (killed, out of memory or crashed)",
                               output_tail=file_tail(run_dir / "output.log"))
                    report.crashed.append(run_id)
                dropped = chunk.trailing_bytes
        if chunk.problem or (dropped and row.get("closed")):
            report.problems[run_id] = chunk.problem or f"dropped a torn tail of {dropped} bytes"
        fold.runs[run_id] = row
        fold.offsets[run_id] = (chunk.end, records + state.get(run_id, (0, 0))[1], dropped)
        report.runs_read += 1
        report.records += records
    _write(session, fold, report)
    return report


def _write(session: CatalogSession, fold: _Fold, report: IngestReport) -> None:
    with session.transaction():
        if fold.metric_tables:
            metrics = pa.concat_tables(fold.metric_tables)
            report.metric_points = metrics.num_rows
            session.register("new_metrics", metrics)
            try:
                session.execute("INSERT INTO metric_rows SELECT run_id, key, step, value, ts FROM new_metrics")
                session.execute(_SUMMARY_MERGE)
            finally:
                session.unregister("new_metrics")
        if fold.params:
            cols = ["run_id", "key", "value", "value_num", "value_type", "source"]
            session.insert_arrow("param_rows", _rows_table(cols, list(fold.params.values()),
                                 {"value_num": pa.float64()}), cols, replace=True)
        if fold.artifacts:
            cols = ["run_id", "path", "oid", "size", "kind", "ts"]
            session.insert_arrow("artifact_rows", _rows_table(cols, list(fold.artifacts.values()),
                                 {"size": pa.int64(), "ts": pa.float64()}), cols, replace=True)
        if fold.datasets:
            cols = ["run_id", "name", "version", "direction", "ts"]
            session.insert_arrow("run_dataset_rows", _rows_table(cols, list(fold.datasets.values()),
                                 {"ts": pa.float64()}), cols, replace=True)
        if fold.runs:
            rows = [tuple(r.get(c) for c in RUN_COLUMNS) for r in fold.runs.values()]
            session.insert_arrow("run_rows", _rows_table(RUN_COLUMNS, rows, RUN_TYPES), RUN_COLUMNS, replace=True)
            # after params and metrics: the summaries are computed from their rows
            refresh_run_summary(session, list(fold.runs))
        if fold.offsets:
            cols = ["run_id", "offset_bytes", "records", "dropped_bytes"]
            rows = [(k, *v) for k, v in fold.offsets.items()]
            session.insert_arrow("journal_state", _rows_table(cols, rows, {
                "offset_bytes": pa.int64(), "records": pa.int64(), "dropped_bytes": pa.int64()}),
                cols, replace=True)


def refresh_run_summary(session: CatalogSession, run_ids: list[str] | None = None) -> None:
    """Recompute the per-run summaries that the runs table reads (``run_summary``: params and
    last/min/max metric values as maps) from param_rows and metric_summary, for ``run_ids`` or
    every run. Ingest calls it for the runs it touched; code that writes those rows itself (bulk
    fixtures) calls it after, or its runs are listed without params and metrics."""
    if run_ids is None:
        run_ids = [r[0] for r in session.execute("SELECT run_id FROM run_rows")]
    session.execute("DELETE FROM run_summary WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [run_ids])
    session.execute(_RUN_SUMMARY_INSERT, [run_ids])


def _rows_table(columns: list[str], rows: list[tuple[Any, ...]], types: dict[str, pa.DataType]) -> pa.Table:
    arrays = []
    for i, col in enumerate(columns):
        values = [r[i] for r in rows]
        arrays.append(_utf8_array(values, types.get(col, pa.string())))
    return pa.table(dict(zip(columns, arrays, strict=True)))


def _unicode_safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_unicode_safe(v) for v in value]
    if isinstance(value, dict):
        return {_unicode_safe(k): _unicode_safe(v) for k, v in value.items()}
    return value


def _json(value: Any) -> str:
    """JSON for a catalog JSON column: DuckDB rejects an escaped lone surrogate (``\\ud800``),
    so one is stored as its escape text rather than failing the ingest."""
    text = json.dumps(value)
    return text if "\\ud" not in text else json.dumps(_unicode_safe(value))


def _utf8_array(values: list[Any], kind: pa.DataType) -> pa.Array:
    """``pa.array``, except that a lone surrogate (``\\udc80``: JSON can carry one, UTF-8 cannot)
    is stored as its escape text instead of failing every future ingest of the workspace."""
    try:
        return pa.array(values, kind)
    except UnicodeEncodeError:
        return pa.array([v.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(v, str) else v
                         for v in values], kind)


_SUMMARY_MERGE = """
INSERT OR REPLACE INTO metric_summary
SELECT b.run_id, b.key,
       CASE WHEN s.last_step IS NULL OR b.last_step >= s.last_step THEN b.last_step ELSE s.last_step END,
       CASE WHEN s.last_step IS NULL OR b.last_step >= s.last_step THEN b.last_value ELSE s.last_value END,
       CASE WHEN s.min_value IS NULL THEN b.mn WHEN b.mn IS NULL THEN s.min_value ELSE least(b.mn, s.min_value) END,
       CASE WHEN s.max_value IS NULL THEN b.mx WHEN b.mx IS NULL THEN s.max_value ELSE greatest(b.mx, s.max_value) END,
       coalesce(s.n, 0) + b.n,
       CASE WHEN s.last_ts IS NULL THEN b.last_ts ELSE greatest(b.last_ts, s.last_ts) END
FROM (
    SELECT run_id, key, max(step) AS last_step, arg_max(value, step) AS last_value,
           min(value) FILTER (WHERE NOT isnan(value)) AS mn,
           max(value) FILTER (WHERE NOT isnan(value)) AS mx,
           count(*) AS n, max(ts) AS last_ts
    FROM new_metrics GROUP BY run_id, key
) b
LEFT JOIN metric_summary s ON s.run_id = b.run_id AND s.key = b.key
"""

# the same rows as migration 004 fills in, for the runs an ingest touched (recomputed from
# param_rows and metric_summary, so an ingest that is redone writes the same summary)
_RUN_SUMMARY_INSERT = """
INSERT INTO run_summary
SELECT r.run_id, p.param_num, p.param_text, m.metric_last, m.metric_min, m.metric_max
FROM (SELECT DISTINCT unnest($1::VARCHAR[]) AS run_id) r
LEFT JOIN (
    SELECT run_id, map_from_entries(list((key, value_num))) AS param_num,
           map_from_entries(list((key, value))) AS param_text
    FROM param_rows WHERE run_id IN (SELECT unnest($1::VARCHAR[])) GROUP BY run_id
) p USING (run_id)
LEFT JOIN (
    SELECT run_id, map_from_entries(list((key, last_value))) AS metric_last,
           map_from_entries(list((key, min_value))) AS metric_min,
           map_from_entries(list((key, max_value))) AS metric_max
    FROM metric_summary WHERE run_id IN (SELECT unnest($1::VARCHAR[])) GROUP BY run_id
) m USING (run_id)
"""
