"""Reading the catalog: the runs table with params and metric summaries, run details, SQL.

Every read first folds in new journal bytes (when the workspace is writable), so what a user
queries includes points logged up to the last flush, 100 ms ago at most.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import AmbiguousRun, CatalogStale, InvalidInput, QueryError, RunNotFound, StorageFull
from ..store import CatalogSession, Workspace
from .ingest import ingest

RUN_BASE_COLUMNS = ["run_id", "project", "name", "status", "started_at", "ended_at", "duration_s"]


@contextmanager
def catalog(ws: Workspace | None = None, fresh: bool = True,
            stale_ok: bool = False) -> Iterator[CatalogSession]:
    """An up-to-date catalog session (ingests first unless ``fresh`` is False).

    ``stale_ok`` is for reads that only look: when the disk is full, so that new journal
    records cannot be ingested, the catalog is served read-only as it is instead of failing,
    with a :class:`CatalogStale` warning (its text also in ``session.stale``). Callers that
    act on what the catalog says (``data gc`` deletes what nothing references) must not set it.
    """
    ws = ws or Workspace.find()
    entered = False
    try:
        with ws.catalog.session(write=True) as session:
            if fresh:
                ingest(ws, session)
            entered = True
            yield session
        return
    except StorageFull as e:
        if entered or not stale_ok or not ws.catalog.exists():
            raise
        full = e
    message = (f"newer run records could not be ingested into the catalog, so this shows the "
               f"catalog as it was: {full.message}. The records are safe in their run journals "
               "and are shown by the first read after space is freed")
    warnings.warn(CatalogStale(message), stacklevel=3)
    with ws.catalog.session(write=False) as session:
        session.stale = message
        yield session


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def runs_frame(session: CatalogSession, project: str | None = None, where: str | None = None,
               include_system: bool = False):  # type: ignore[no-untyped-def]
    """One row per run: base columns, ``params.<key>``, ``metrics.<key>`` (last value) and
    ``metrics.<key>.min`` / ``.max``.

    ``where`` is a DuckDB expression over those names, e.g. ``"params.lr < 0.01 and
    metrics.acc > 0.9"``: params and metrics are structs, so the dotted names work as written.
    """
    if project is not None and not isinstance(project, str):
        raise InvalidInput(f"project must be a string, got {type(project).__name__}")
    filters = []
    args: list[Any] = []
    if project is not None:
        filters.append("r.project = ?")
        args.append(project)
    param_keys = session.execute(
        "SELECT key, bool_and(value_num IS NOT NULL OR value_type = 'null') FROM param_rows "
        "GROUP BY key ORDER BY key")
    metric_keys = [r[0] for r in session.execute(
        "SELECT DISTINCT key FROM metric_summary ORDER BY key") if include_system or not r[0].startswith("sys/")]
    # run_summary holds each run's params and metric summaries as maps (kept by ingest), so
    # this is one row per run; the structs keep ``params.lr`` working in ``where``, and the
    # outer projection takes their fields out as plain columns inside DuckDB
    p_fields = [f"{_quote(k)} := s.{'param_num' if numeric else 'param_text'}[{_sql_str(k)}]"
                for k, numeric in param_keys]
    m_fields = [f"{_quote(k + suffix)} := s.{column}[{_sql_str(k)}]"
                for k in metric_keys
                for suffix, column in (("", "metric_last"), (".min", "metric_min"), (".max", "metric_max"))]
    p_struct = f"struct_pack({', '.join(p_fields)})" if p_fields else "NULL"
    m_struct = f"struct_pack({', '.join(m_fields)})" if m_fields else "NULL"
    names = [f"params.{k}" for k, _ in param_keys]
    fields = [f"struct_extract(params, {_sql_str(k)})" for k, _ in param_keys]
    for k in metric_keys:
        for suffix in ("", ".min", ".max"):
            names.append(f"metrics.{k}{suffix}")
            fields.append(f"struct_extract(metrics, {_sql_str(k + suffix)})")
    base = ", ".join(f"r.{c}" for c in RUN_BASE_COLUMNS)
    outer = ", ".join([*RUN_BASE_COLUMNS, *(f"{f} AS {_quote(n)}" for f, n in zip(fields, names, strict=True))])
    sql = f"""
        SELECT {outer} FROM (
            SELECT {base}, {p_struct} AS params, {m_struct} AS metrics
            FROM runs r LEFT JOIN run_summary s USING (run_id)
            {"WHERE " + " AND ".join(filters) if filters else ""}
        )
        {f"WHERE ({where})" if where else ""}
        ORDER BY started_at DESC NULLS LAST, run_id DESC
    """
    if where is not None and (not isinstance(where, str) or ";" in where):
        raise InvalidInput(f"where must be one SQL expression such as \"params.lr < 0.01\", got {where!r}")
    if where:
        session.lock_down()
    try:
        frame = session.df(sql, args)
    except Exception as e:  # duckdb errors stay inside the store layer's types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise QueryError(f"cannot filter runs with where={where!r}: {first}") from None
    return _nulls_as_none(session, frame, names, sql, args)


def _nulls_as_none(session: CatalogSession, frame, columns: list[str], sql: str,  # type: ignore[no-untyped-def]
                   args: list[Any]):
    """A param or metric column with no value in any listed run holds ``None`` (object dtype),
    as it always has, rather than DuckDB's typed all-NaN column; with no run at all, every such
    column is float64, as pandas makes an empty column.

    pandas shows SQL NULL and a logged NaN alike, so a column that is all NaN in the frame is
    counted again in DuckDB: a metric whose every listed value is a real NaN stays NaN.
    """
    if not len(frame):
        return frame.astype(dict.fromkeys(columns, "float64")) if columns else frame
    suspects = [c for c in columns if frame[c].isna().all()]
    if suspects:
        counts = session.execute(
            f"SELECT {', '.join(f'count({_quote(c)})' for c in suspects)} FROM ({sql})", args)[0]
        for c, n in zip(suspects, counts, strict=True):
            if not n:
                frame[c] = [None] * len(frame)
    return frame


_RUN_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def resolve_run(session: CatalogSession, ref: str) -> str:
    """A full run id from an id or a unique prefix of one (like git's short hashes)."""
    if not isinstance(ref, str) or not _RUN_ID.match(ref):
        raise RunNotFound(str(ref)[:80], " (run ids are letters, digits, '-', '_' and '.')")
    rows = session.execute(
        "SELECT run_id FROM run_rows WHERE run_id = ? OR starts_with(run_id, ?) ORDER BY run_id LIMIT 6",
        [ref, ref])
    ids = [r[0] for r in rows]
    if ref in ids:
        return ref
    if not ids:
        raise RunNotFound(ref)
    if len(ids) > 1:
        raise AmbiguousRun(f"{ref!r} matches several runs ({', '.join(ids[:5])}); give more characters")
    return ids[0]


def run_details(session: CatalogSession, ref: str) -> dict[str, Any]:
    run_id = resolve_run(session, ref)
    frame = session.df("SELECT * FROM runs WHERE run_id = ?", [run_id])
    row = frame.iloc[0].to_dict()
    for key in ("environment", "hardware", "tags"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    row["params"] = {
        k: _param_value(v, t) for k, v, t in session.execute(
            "SELECT key, value, value_type FROM param_rows WHERE run_id = ? ORDER BY key", [run_id])
    }
    row["metrics"] = {
        k: {"last": last, "last_step": step, "min": mn, "max": mx, "count": n}
        for k, step, last, mn, mx, n in session.execute(
            "SELECT key, last_step, last_value, min_value, max_value, n FROM metric_summary "
            "WHERE run_id = ? ORDER BY key", [run_id])
    }
    row["artifacts"] = [
        {"path": p, "oid": o, "size": s} for p, o, s in session.execute(
            "SELECT path, oid, size FROM artifact_rows WHERE run_id = ? ORDER BY path", [run_id])
    ]
    # dataset lineage: versions the run read (inputs) and committed (outputs)
    lineage = session.execute(
        "SELECT direction, name, version, ts FROM run_dataset_rows WHERE run_id = ? ORDER BY ts, name",
        [run_id])
    for direction, key in (("input", "inputs"), ("output", "outputs")):
        row[key] = [{"name": n, "version": v, "ref": f"{n}@{v}", "ts": ts}
                    for d, n, v, ts in lineage if d == direction]
    return row


def _param_value(text: str | None, vtype: str) -> Any:
    if text is None:
        return None
    if vtype == "int":
        return int(text)
    if vtype == "float":
        return float(text)
    if vtype == "bool":
        return text == "True"
    if vtype == "json":
        return json.loads(text)
    return text


def metric_history(session: CatalogSession, run_id: str, key: str | None = None):  # type: ignore[no-untyped-def]
    sql = "SELECT key, step, value, ts FROM metrics WHERE run_id = ?"
    args: list[Any] = [run_id]
    if key is not None:
        sql += " AND key = ?"
        args.append(key)
    return session.df(sql + " ORDER BY key, step, ts", args)


MAX_CURVE_POINTS = 2000


def metric_curves(session: CatalogSession, run_ids: list[str], key: str,
                  max_points: int = MAX_CURVE_POINTS):  # type: ignore[no-untyped-def]
    """The history of metric ``key`` for several runs, downsampled inside DuckDB.

    Each run's points (ordered by step, then time) are cut into ``max_points // 2`` equal
    buckets and only the lowest and highest point of each bucket is kept, so a curve has at
    most ``max_points`` points and its true minimum and maximum (a loss spike, the best
    accuracy) always survive, which plain striding would drop. Columns: run_id, step, value,
    ts (epoch seconds) and wall_s (seconds since the run started).
    """
    if not isinstance(max_points, int) or max_points < 2:
        raise InvalidInput(f"max_points must be an integer of at least 2, got {max_points!r}")
    if isinstance(run_ids, str) or not all(isinstance(r, str) for r in run_ids):
        raise InvalidInput("run_ids must be a list of run id strings")
    buckets = max_points // 2
    sql = """
        WITH src AS (
            SELECT m.run_id, m.step, m.value, m.ts, m.ts - r.started_at AS wall_s,
                   row_number() OVER (PARTITION BY m.run_id ORDER BY m.step, m.ts) - 1 AS i,
                   count(*) OVER (PARTITION BY m.run_id) AS n
            FROM metric_rows m LEFT JOIN run_rows r USING (run_id)
            WHERE m.key = ? AND m.run_id IN (SELECT unnest(?::VARCHAR[]))
        ), bucketed AS (
            SELECT *, CASE WHEN n <= ? THEN i ELSE (i * ?) // n END AS bucket FROM src
        ), ranked AS (
            SELECT *,
                   row_number() OVER (PARTITION BY run_id, bucket
                                      ORDER BY isnan(value), value ASC, i) AS lo,
                   row_number() OVER (PARTITION BY run_id, bucket
                                      ORDER BY isnan(value), value DESC, i) AS hi
            FROM bucketed
        )
        SELECT run_id, step, value, ts, wall_s FROM ranked WHERE lo = 1 OR hi = 1
        ORDER BY run_id, i
    """
    return session.df(sql, [key, list(run_ids), max_points, buckets])
