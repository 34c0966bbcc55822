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
from datetime import date, datetime, timezone
from typing import Any

from jupyter_dlbench.errors import NotFound
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query

RUN_FIELDS = ("run_id", "project", "name", "status", "started_at", "ended_at", "duration_s")

# Fields of run details that are free-form structures: NaN inside them is a real value.
_NESTED = ("params", "metrics", "artifacts", "environment", "hardware", "tags")


def run_list(ws: Workspace, project: str | None, where: str | None, limit: int) -> dict[str, Any]:
    with query.catalog(ws) as session:
        frame = query.runs_frame(session, project=project, where=where)
    columns = set(frame.columns)
    param_keys = [c[len("params.") :] for c in frame.columns if c.startswith("params.")]
    # runs_frame gives each metric three columns: "metrics.K" (last), "metrics.K.min" and
    # "metrics.K.max"; K is a metric exactly when both companions exist.
    metric_keys = [
        c[len("metrics.") :]
        for c in frame.columns
        if c.startswith("metrics.") and f"{c}.min" in columns and f"{c}.max" in columns
    ]
    runs = []
    for record in frame.head(limit).to_dict("records"):
        run = {field: _scalar(record[field]) for field in RUN_FIELDS}
        run["params"] = {
            k: jsonable(record[f"params.{k}"])
            for k in param_keys
            if not _missing(record[f"params.{k}"])
        }
        # The frame has NaN both for "not logged in this run" and for a logged NaN; a metric
        # counts as logged when its last, min or max is there (an all-NaN series is not).
        run["metrics"] = {
            k: float_value(record[f"metrics.{k}"])
            for k in metric_keys
            if not all(_missing(record[f"metrics.{k}{s}"]) for s in ("", ".min", ".max"))
        }
        runs.append(run)
    return {"runs": runs, "total": len(frame), "workspace": str(ws.root)}


def run_detail(ws: Workspace, ref: str) -> dict[str, Any]:
    with query.catalog(ws) as session:
        info = query.run_details(session, ref)
    return {k: jsonable(v) if k in _NESTED else _scalar(v) for k, v in info.items()}


def metric_history(ws: Workspace, ref: str, key: str | None) -> dict[str, Any]:
    """``{"run_id", "metrics": {key: {"steps", "values", "wall_time"}}}``, arrays in step order."""
    import pandas as pd

    with query.catalog(ws) as session:
        run_id = query.resolve_run(session, ref)
        frame = query.metric_history(session, run_id, key)
        if key is not None and frame.empty:
            known = sorted(query.run_details(session, run_id)["metrics"])
            raise NotFound(
                f"run {run_id} has no metric {key!r}; its metrics are: "
                f"{', '.join(repr(k) for k in known) if known else 'none'}"
            )
    history: dict[str, Any] = {}
    if not frame.empty:
        frame = frame.assign(
            wall_time=(frame["ts"] - pd.Timestamp("1970-01-01")).dt.total_seconds()
        )
        for name, group in frame.groupby("key", sort=False):
            history[str(name)] = {
                "steps": [None if _missing(s) else int(s) for s in group["step"].tolist()],
                "values": [float_value(v) for v in group["value"].tolist()],
                "wall_time": [None if _missing(t) else t for t in group["wall_time"].tolist()],
            }
    return {"run_id": run_id, "metrics": history}


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
