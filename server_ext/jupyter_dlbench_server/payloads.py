"""Library answers turned into the JSON bodies of ``openapi.yaml``.

Every function here may open the catalog, so handlers call them through
``DlbenchHandler.blocking``. JSON has no NaN or infinity, so a float that is NaN, +inf or -inf
is sent as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (the ``FloatValue`` schema):
a diverged loss stays visible. A value that is absent is ``null`` (or the key is left out of
``params`` / ``metrics``). Timestamps are ISO 8601 strings in UTC.
"""

from __future__ import annotations

import math
import numbers
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_dlbench.errors import NotFound, ObjectNotFound
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query
from jupyter_dlbench.tracking.downsample import extremes_indices
from jupyter_dlbench.tracking.listing import RunListing, select_runs


class ArtifactNotFound(NotFound):
    code = "artifact_not_found"


RUN_FIELDS = ("run_id", "project", "name", "status", "started_at", "ended_at", "duration_s")

# Fields of run details that are free-form structures: NaN inside them is a real value.
_NESTED = ("params", "metrics", "artifacts", "environment", "hardware", "tags", "inputs",
           "outputs")


def run_list(ws: Workspace, listing: RunListing | None, *, project: str | None = None,
             where: str | None = None, statuses: list[str] | None = None,
             text: str | None = None, sort: str | None = None, offset: int = 0,
             limit: int = 200) -> dict[str, Any]:
    """One page of runs. Without ``where`` the server's cached table answers (see
    ``tracking.listing``); a ``where`` expression needs the catalog, so it reads it afresh."""
    cached = where is None and listing is not None
    if cached:
        full = listing.frame()  # type: ignore[union-attr]
        stale = listing.stale  # type: ignore[union-attr]
    else:
        with query.catalog(ws, stale_ok=True) as session:
            full = query.runs_frame(session, where=where)
            stale = session.stale
    frame = select_runs(full, project=project, statuses=statuses, text=text, sort=sort)
    page = frame.iloc[offset : offset + limit]
    # Converting a row to JSON costs more than finding it; the cached table's rows are
    # converted once and reused until the table is re-read.
    memo = _RowMemo.get(full) if cached else _RowMemo(full)
    runs = memo.rows(page)
    out = {"runs": runs, "total": len(frame), "offset": offset, "workspace": str(ws.root)}
    if stale:  # a full disk: the catalog as it was, and why
        out["warnings"] = [stale]
    return out


class _RowMemo:
    """JSON-ready run rows of one runs frame, converted on first use."""

    _last: _RowMemo | None = None
    _lock = threading.Lock()

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        columns = set(frame.columns)
        self.param_keys = [c[len("params.") :] for c in frame.columns if c.startswith("params.")]
        # runs_frame gives each metric three columns: "metrics.K" (last), "metrics.K.min"
        # and "metrics.K.max"; K is a metric exactly when both companions exist.
        self.metric_keys = [
            c[len("metrics.") :]
            for c in frame.columns
            if c.startswith("metrics.") and f"{c}.min" in columns and f"{c}.max" in columns
        ]
        self.done: dict[str, dict[str, Any]] = {}

    @classmethod
    def get(cls, frame: Any) -> _RowMemo:
        with cls._lock:
            if cls._last is None or cls._last.frame is not frame:
                cls._last = cls(frame)
            return cls._last

    def rows(self, page: Any) -> list[dict[str, Any]]:
        ids = page["run_id"].tolist()
        todo = [i for i, run_id in enumerate(ids) if run_id not in self.done]
        if todo:
            for record in page.iloc[todo].to_dict("records"):
                self.done[record["run_id"]] = self._convert(record)
        return [self.done[run_id] for run_id in ids]

    def _convert(self, record: dict[str, Any]) -> dict[str, Any]:
        run = {field: _scalar(record[field]) for field in RUN_FIELDS}
        run["params"] = {
            k: jsonable(record[f"params.{k}"])
            for k in self.param_keys
            if not _missing(record[f"params.{k}"])
        }
        # The frame has NaN both for "not logged in this run" and for a logged NaN; a metric
        # counts as logged when its last, min or max is there (an all-NaN series is not).
        run["metrics"] = {
            k: float_value(record[f"metrics.{k}"])
            for k in self.metric_keys
            if not all(_missing(record[f"metrics.{k}{s}"]) for s in ("", ".min", ".max"))
        }
        return run


def run_detail(ws: Workspace, ref: str) -> dict[str, Any]:
    with query.catalog(ws, stale_ok=True) as session:
        info = query.run_details(session, ref)
    out = {k: jsonable(v) if k in _NESTED else _scalar(v) for k, v in info.items()}
    for key in ("inputs", "outputs"):  # dataset lineage, when the library records it
        if isinstance(out.get(key), list):
            out[key] = [{**d, "ts": _epoch_iso(d.get("ts"))} for d in out[key]]
    return out


def _epoch_iso(ts: Any) -> str | None:
    if isinstance(ts, (int, float)) and math.isfinite(ts):
        return datetime.fromtimestamp(ts, timezone.utc).isoformat()
    return None


def metric_history(ws: Workspace, ref: str, keys: list[str] | None,
                   points: int | None = None) -> dict[str, Any]:
    """``{"run_id", "metrics": {key: {"steps", "values", "wall_time", "count", "sampled"}}}``,
    arrays in step order, each cut to ``points`` keeping extremes when given."""
    import numpy as np
    import pandas as pd

    with query.catalog(ws) as session:
        run_id = query.resolve_run(session, ref)
        key = keys[0] if keys and len(keys) == 1 else None
        frame = query.metric_history(session, run_id, key)
        if keys:
            missing = [k for k in keys if k not in set(frame["key"].unique())]
            if missing:
                known = sorted(query.run_details(session, run_id)["metrics"])
                raise NotFound(
                    f"run {run_id} has no metric {', '.join(repr(k) for k in missing)}; its "
                    f"metrics are: {', '.join(repr(k) for k in known) if known else 'none'}"
                )
            frame = frame[frame["key"].isin(keys)]
    history: dict[str, Any] = {}
    if not frame.empty:
        frame = frame.assign(
            wall_time=(frame["ts"] - pd.Timestamp("1970-01-01")).dt.total_seconds()
        )
        for name, group in frame.groupby("key", sort=False):
            count = len(group)
            if points is not None and count > points:
                group = group.iloc[extremes_indices(group["value"].to_numpy(np.float64), points)]
            history[str(name)] = {
                "steps": [None if _missing(s) else int(s) for s in group["step"].tolist()],
                "values": [float_value(v) for v in group["value"].tolist()],
                "wall_time": [None if _missing(t) else t for t in group["wall_time"].tolist()],
                "count": count,
                "sampled": len(group) < count,
            }
    return {"run_id": run_id, "metrics": history}


def artifact(ws: Workspace, ref: str, path: str) -> tuple[str, Path, int]:
    """(run id, object file, size) of one artifact of a run; the path must be one the run
    recorded, so nothing outside the object store is ever read."""
    with query.catalog(ws) as session:
        info = query.run_details(session, ref)
    for item in info["artifacts"]:
        if item["path"] == path:
            try:
                file = ws.objects.file(item["oid"])  # a packed one is written out as a file
            except ObjectNotFound:
                raise ObjectNotFound(
                    f"the object of artifact {path!r} of run {info['run_id']} is missing from "
                    "the object store; `dlbench doctor` checks the workspace") from None
            return info["run_id"], file, file.stat().st_size
    known = [a["path"] for a in info["artifacts"]]
    raise ArtifactNotFound(
        f"run {info['run_id']} has no artifact {path[:200]!r}; its artifacts are: "
        f"{', '.join(repr(k) for k in known[:20]) if known else 'none'}"
        f"{' ...' if len(known) > 20 else ''}")


def health(ws: Workspace, version: str) -> dict[str, Any]:
    return {"status": "ok", "version": version, "workspace": str(ws.root)}


def float_value(value: Any) -> float | str | None:
    """A float as JSON allows it: NaN and infinities become strings, missing stays None."""
    if value is None or _is_na(value):
        return None
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def jsonable(value: Any) -> Any:
    """Any value from the library as JSON-safe Python: numpy and pandas scalars unboxed,
    datetimes as ISO strings, NaN and infinities as strings."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if _is_na(value):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float_value(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and numpy scalars such as bool_
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


def iso_utc(value: datetime) -> str:
    """The catalog stores UTC without a zone; say so in the string."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def _scalar(value: Any) -> Any:
    """A top-level run field from a DataFrame row, where NaN/NaT mean "absent"."""
    return None if _missing(value) else jsonable(value)


def _missing(value: Any) -> bool:
    if value is None or _is_na(value):
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_na(value: Any) -> bool:
    # pandas' missing markers, recognised without importing pandas
    return type(value).__name__ in ("NAType", "NaTType")
