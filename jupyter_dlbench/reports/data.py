"""Everything a report shows, gathered from the catalog and the run folder in one pass.

Kept apart from the rendering so the HTML and Markdown forms always show the same facts, and
so tests can check the facts without parsing either.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..execution.notebooks import notebook_code
from ..store import CatalogSession, Workspace
from ..tracking import query

LOG_TAIL_CHARS = 4000


@dataclass
class RunBundle:
    """The facts of one run report."""

    info: dict[str, Any]
    curves: dict[str, Any]  # metric key -> DataFrame(step, value, ts, wall_s), downsampled
    code: str | None
    previous_run: str | None
    code_diff: str | None
    log_tail: str
    output_notebook: dict[str, Any] | None
    datasets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gpu: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.info["run_id"])

    def user_metrics(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.info["metrics"].items() if not k.startswith("sys/")}

    def best(self, key: str) -> tuple[float | None, str]:
        """The best value of a metric: the minimum for losses and errors, else the maximum."""
        m = self.info["metrics"][key]
        mode = objective_mode(key)
        return (m["min"] if mode == "min" else m["max"]), mode


def objective_mode(key: str) -> str:
    """Whether smaller is better for a metric, guessed from its name (loss, error, time …)."""
    low = key.lower()
    return "min" if any(w in low for w in ("loss", "err", "mse", "mae", "rmse", "perplex",
                                           "time", "latency", "wer", "cer")) else "max"


def code_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=old_name, tofile=new_name, n=2))


def snapshot_code(ws: Workspace, oid: str | None) -> str | None:
    if not oid:
        return None
    try:
        return notebook_code(ws.objects.read_bytes(oid))
    except Exception:  # noqa: BLE001 - a missing snapshot leaves the code section empty
        return None


def previous_run_of_notebook(session: CatalogSession, run_id: str) -> str | None:
    """The run of the same notebook that started last before this one."""
    rows = session.execute(
        "SELECT p.run_id FROM run_rows r JOIN run_rows p ON p.notebook_path = r.notebook_path "
        "AND p.started_at < r.started_at AND p.run_id <> r.run_id WHERE r.run_id = ? "
        "AND r.notebook_path IS NOT NULL ORDER BY p.started_at DESC LIMIT 1", [run_id])
    return rows[0][0] if rows else None


def dataset_rows(session: CatalogSession, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Dataset versions the run read (inputs) and wrote (outputs), when lineage is recorded."""
    has = session.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'run_dataset_rows'")[0][0]
    if not has:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for name, version, direction in session.execute(
            "SELECT name, version, direction FROM run_dataset_rows WHERE run_id = ? "
            "ORDER BY direction, name, version", [run_id]):
        found.setdefault(f"{direction}s", []).append({"dataset": name, "version": version})
    return found


def gpu_summary(info: dict[str, Any]) -> dict[str, Any]:
    """GPU time = wall time × GPUs visible to the run, with mean utilisation when sampled."""
    devices = (info.get("cuda_visible_devices") or "").strip()
    count = len([d for d in devices.split(",") if d.strip() and d.strip() != "-1"]) if devices else 0
    if not devices:
        count = len((info.get("hardware") or {}).get("gpus") or [])
    duration = info.get("duration_s")
    out: dict[str, Any] = {"gpus": count}
    if count and isinstance(duration, (int, float)) and not math.isnan(duration):
        out["gpu_seconds"] = float(duration) * count
    utils = [m["last"] for k, m in info["metrics"].items()
             if k.startswith("sys/gpu") and k.endswith("_util_percent")]
    if utils:
        out["last_util_percent"] = sum(utils) / len(utils)
    return out


def gather_run(ws: Workspace, run: str, max_points: int = query.MAX_CURVE_POINTS) -> RunBundle:
    """Read one run's report facts (ingesting new journal bytes first)."""
    with query.catalog(ws) as session:
        info = query.run_details(session, run)
        run_id = info["run_id"]
        curves = {}
        for key in info["metrics"]:
            if not key.startswith("sys/"):
                curves[key] = query.metric_curves(session, [run_id], key, max_points)
        previous = previous_run_of_notebook(session, run_id)
        prev_oid = None
        if previous:
            prev_oid = session.execute("SELECT snapshot_oid FROM run_rows WHERE run_id = ?", [previous])[0][0]
        datasets = dataset_rows(session, run_id)
    code = snapshot_code(ws, info.get("snapshot_oid"))
    diff = None
    if previous and code is not None:
        old = snapshot_code(ws, prev_oid)
        if old is not None:
            diff = code_diff(old, code, f"run {previous}", f"run {run_id}")
    log_path = ws.run_dir(run_id) / "output.log"
    tail = info.get("output_tail") or ""
    if log_path.is_file():
        with open(log_path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - LOG_TAIL_CHARS * 4))
            tail = f.read().decode("utf-8", errors="replace")
    output_nb = next(({"path": a["path"], "oid": a["oid"], "file": str(ws.objects.path(a["oid"]))}
                      for a in info["artifacts"] if a["path"].endswith(".ipynb")), None)
    if not tail.strip():  # a job's kernel output lives in its output notebook, not output.log
        tail = _notebook_streams(ws, output_nb["oid"]) if output_nb else ""
    return RunBundle(info=info, curves=curves, code=code, previous_run=previous, code_diff=diff,
                     log_tail=tail[-LOG_TAIL_CHARS:], output_notebook=output_nb, datasets=datasets,
                     gpu=gpu_summary(info))


def _notebook_streams(ws: Workspace, oid: str) -> str:
    """The text a notebook's cells printed (stdout/stderr streams and errors), in order."""
    try:
        nb = json.loads(ws.objects.read_bytes(oid))
    except Exception:  # noqa: BLE001 - an unreadable notebook only leaves the log empty
        return ""
    parts = []
    for cell in nb.get("cells") or []:
        for out in cell.get("outputs") or []:
            if out.get("output_type") == "stream":
                text = out.get("text") or ""
                parts.append("".join(text) if isinstance(text, list) else str(text))
            elif out.get("output_type") == "error":
                parts.append(f"{out.get('ename')}: {out.get('evalue')}\n")
    return "".join(parts)[-LOG_TAIL_CHARS:]


# -- sweeps -------------------------------------------------------------------------------


@dataclass
class SweepBundle:
    """The facts of a sweep report: one row per run, the objective and the trials' fates."""

    title: str
    objective: str
    mode: str
    frame: Any  # runs_frame rows of the sweep's runs
    importance: list[dict[str, Any]]
    best_run: str | None
    best: RunBundle | None
    problems: list[dict[str, Any]]  # failed / pruned trials and why

    def leaderboard(self):  # type: ignore[no-untyped-def]
        col = f"metrics.{self.objective}"
        if col not in self.frame:
            return self.frame.iloc[0:0]
        # failed, crashed and pruned runs are listed with their reasons, not ranked
        ok = self.frame[self.frame[col].notna() & self.frame["status"].isin(["finished", "running"])]
        return ok.sort_values(col, ascending=self.mode == "min", kind="stable")


def parse_objective(objective: Any) -> tuple[str, str]:
    """``("val_acc", "max")``, ``"val_acc"`` (direction guessed) or ``"-loss"`` (minimise)."""
    if isinstance(objective, str) and objective:
        if objective.startswith("-"):
            return objective[1:], "min"
        return objective, objective_mode(objective)
    if isinstance(objective, (tuple, list)) and len(objective) == 2 and isinstance(objective[0], str) \
            and objective[1] in ("min", "max"):
        return objective[0], objective[1]
    raise InvalidInput(
        f"objective must be a metric name or (metric, 'min'|'max'), got {objective!r}")


def param_importance(frame, objective: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """How much of the objective's spread each param explains: the correlation ratio η².

    η² is the share of the objective's variance that lies between the groups of runs sharing
    a param value (numeric params with more than 5 values are cut into 5 quantile bins). For
    numeric params Spearman's ρ gives the direction. Simple, explainable, and honest about
    few runs: it is descriptive, not causal.
    """
    import pandas as pd

    col = f"metrics.{objective}"
    if col not in frame:
        return []
    out = []
    y = pd.to_numeric(frame[col], errors="coerce")
    for pcol in [c for c in frame.columns if c.startswith("params.")]:
        x = frame[pcol]
        ok = y.notna() & x.notna()
        if ok.sum() < 3 or x[ok].nunique() < 2:
            continue
        xs, ys = x[ok], y[ok]
        num = pd.to_numeric(xs, errors="coerce")
        numeric = bool(num.notna().all())
        groups = xs.astype(str)
        if numeric and num.nunique() > 5:
            groups = pd.qcut(num.rank(method="first"), 5, labels=False).astype(str)
        total = float(((ys - ys.mean()) ** 2).sum())
        between = float(sum(len(g) * (g.mean() - ys.mean()) ** 2 for _, g in ys.groupby(groups)))
        eta2 = between / total if total > 1e-300 else 0.0
        eta2 = 0.0 if eta2 < 1e-12 else min(eta2, 1.0)  # float noise, not signal
        rho = float(num.rank().corr(ys.rank())) if numeric else None
        out.append({"param": pcol[len("params."):], "eta2": eta2,
                    "spearman": None if rho is None or math.isnan(rho) else rho,
                    "values": int(xs.nunique()), "runs": int(ok.sum())})
    return sorted(out, key=lambda r: -r["eta2"])


def _trial_field(trial: Any, *names: str) -> Any:
    for n in names:
        value = trial.get(n) if isinstance(trial, dict) else getattr(trial, n, None)
        if value is not None:
            return value
    return None


def gather_sweep(ws: Workspace, run_ids: list[str], objective: Any, title: str = "sweep",
                 trials: list[Any] | None = None) -> SweepBundle:
    """Read a sweep's facts; ``trials`` (from a sweep engine) add pruned trials and reasons."""
    if isinstance(run_ids, str) or not isinstance(run_ids, (list, tuple)):
        raise InvalidInput("run_ids must be a list of run ids")
    key, mode = parse_objective(objective)
    with query.catalog(ws) as session:
        ids = [query.resolve_run(session, r) for r in run_ids]
        frame = query.runs_frame(session)
        errors = dict(session.execute(
            "SELECT run_id, error FROM run_rows WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [ids]))
    frame = frame[frame["run_id"].isin(ids)].reset_index(drop=True)
    # the catalog's columns span every run in the workspace: keep the ones these runs have
    frame = frame[[c for c in frame.columns if not c.startswith(("params.", "metrics."))
                   or frame[c].notna().any()]]
    frame["error"] = [errors.get(r) for r in frame["run_id"]]
    problems: list[dict[str, Any]] = []
    for t in trials or []:  # the sweep engine knows why a trial was pruned or failed
        state = str(_trial_field(t, "state", "status") or "").lower()
        if state in ("pruned", "failed", "fail", "crashed", "cancelled", "lost"):
            rid = _trial_field(t, "run_id", "run")
            problems.append({"run_id": rid or f"trial {_trial_field(t, 'trial', 'number', 'id')}",
                             "state": state,
                             "reason": str(_trial_field(t, "reason", "error", "message") or "")})
    known = {p["run_id"] for p in problems}
    problems += [{"run_id": r["run_id"], "state": r["status"], "reason": r.get("error") or ""}
                 for r in frame.to_dict(orient="records")
                 if r["status"] not in ("finished", "running") and r["run_id"] not in known]
    bundle = SweepBundle(title=title, objective=key, mode=mode, frame=frame,
                         importance=param_importance(frame, key), best_run=None, best=None,
                         problems=problems)
    board = bundle.leaderboard()
    if len(board):
        bundle.best_run = str(board["run_id"].iloc[0])
        bundle.best = gather_run(ws, bundle.best_run)
    return bundle
