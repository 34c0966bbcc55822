"""``dlb.compare(...)``: runs table, overlaid curves, parallel coordinates, scatter, diff, live.

The widget's state changes go through plain methods (``set_filter``, ``select``,
``set_metric``, ``set_x``, ``set_smoothing``, ``set_log``, ``diff``, ``refresh``), which the
ipywidgets controls and the table's selection call, so tests drive the real models without a
browser. Only the runs table is loaded up front; curves are read (downsampled in DuckDB) for
the selected runs only, which keeps opening 1,000 runs fast.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets

from ..errors import InvalidInput
from ..execution.notebooks import notebook_code
from ..store import Workspace
from ..tracking import query
from . import compare_views as views

X_AXES = {"step": "step", "wall time (s)": "wall_s", "epoch": "epoch"}
DEFAULT_SELECTION = 5
_bokehjs_loaded = False


def _ensure_bokehjs() -> None:
    """Put BokehJS on the page once, inline: the CDN default fails offline (MACHINE-NOTES §6)."""
    global _bokehjs_loaded
    if _bokehjs_loaded:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import Resources

    # only the parts this widget uses: 2 MB of script in the notebook instead of INLINE's 4 MB
    output_notebook(Resources(mode="inline", components=["bokeh", "bokeh-widgets", "bokeh-tables"]),
                    hide_banner=True)
    _bokehjs_loaded = True


class CompareWidget(ipywidgets.VBox):  # type: ignore[misc]
    """The comparison widget; build it with :func:`compare`."""

    def __init__(self, frame: Any, workspace: Workspace, objective: tuple[str, str] | None = None,
                 poll_interval: float = 1.0, title: str = "Compare runs",
                 initial: int = DEFAULT_SELECTION) -> None:
        import ipywidgets as w
        from bokeh.layouts import row
        from bokeh.models import ColumnDataSource, DataTable
        from jupyter_bokeh.widgets import BokehModel

        self._stop = threading.Event()  # first: close() (also run by __del__) needs it
        self.workspace = workspace
        self.frame = frame.reset_index(drop=True)
        self.poll_interval = poll_interval
        # only keys these runs have (the catalog's columns span every run in the workspace)
        used = [c for c in self.frame.columns if self.frame[c].notna().any()]
        self.metric_keys = sorted({c[len("metrics."):] for c in used if c.startswith("metrics.")
                                   and f"{c}.min" in self.frame}, key=lambda k: (k.startswith("sys/"), k))
        self.param_keys = [c[len("params."):] for c in used if c.startswith("params.")]
        if objective is None and self.metric_keys:
            key = self.metric_keys[0]
            objective = (key, views.objective_mode(key))
        if objective and self.metric_keys and objective[0] not in self.metric_keys:
            raise InvalidInput(f"the objective {objective[0]!r} was not logged by these runs; they logged: "
                               f"{', '.join(self.metric_keys)}")
        self.objective = objective
        self.metric = objective[0] if objective and self.metric_keys else \
            (self.metric_keys[0] if self.metric_keys else None)
        self._muted = False  # set while code, not the user, moves the diff dropdowns
        self._building = False
        self.x = "step"
        self.smoothing = 0.0
        self.log_scale = False
        self.filter_text = ""
        self.visible_ids: list[str] = list(self.frame["run_id"])
        self.selected_ids: list[str] = []
        self._curves: dict[str, Any] = {}
        self._epochs: dict[str, Any] = {}  # run -> its logged "epoch" metric, for the epoch axis
        self._poller: threading.Thread | None = None
        self._lock = threading.RLock()

        self.columns = ["run_id", "name", "status", "duration_s",
                        *(["datasets"] if "datasets" in self.frame else []),
                        *[f"params.{p}" for p in self.param_keys],
                        *[f"metrics.{m}" for m in self.metric_keys if not m.startswith("sys/")]]
        self.table_source = ColumnDataSource(self._table_data())
        self.table = DataTable(source=self.table_source, columns=views.table_columns(self.columns),
                               sortable=True, selectable=True, width=960, height=260, index_position=None)
        self.table_source.selected.on_change("indices", self._on_table_select)
        self.curve_source = ColumnDataSource({"xs": [], "ys": [], "raw": [], "color": [], "run": []})
        self.curve_linear, self.curve_log = views.curve_figures(self.curve_source)
        self.pc_source = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": [], "color": [], "width": [],
                                           "run": [], "objective": []})
        self.pc_axes = ColumnDataSource({"x": [], "name": []})
        self.scatter_source = ColumnDataSource({"x": [], "y": [], "run": [], "label": [], "color": [], "size": []})
        self.scatter_param = self.param_keys[0] if self.param_keys else None
        self.scatter_fig = views.scatter_figure(self.scatter_source)

        self.filter_box = w.Text(placeholder="filter: text in any column", description="filter")
        self.filter_box.observe(lambda ch: self.set_filter(ch["new"]), names="value")
        self.count_label = w.HTML()
        self.metric_menu = w.Dropdown(options=self.metric_keys, value=self.metric, description="metric")
        self.metric_menu.observe(lambda ch: self.set_metric(ch["new"]), names="value")
        self.x_menu = w.Dropdown(options=[k for k in X_AXES if k != "epoch" or "epoch" in self.metric_keys],
                                 value="step", description="x axis")
        self.x_menu.observe(lambda ch: self.set_x(X_AXES[ch["new"]]), names="value")
        self.smooth_slider = w.FloatSlider(value=0.0, min=0.0, max=0.99, step=0.01, description="smoothing")
        self.smooth_slider.observe(lambda ch: self.set_smoothing(ch["new"]), names="value")
        self.log_toggle = w.ToggleButton(value=False, description="log scale")
        self.log_toggle.observe(lambda ch: self.set_log(ch["new"]), names="value")
        self.scatter_menu = w.Dropdown(options=self.param_keys, value=self.scatter_param, description="scatter x")
        self.scatter_menu.observe(lambda ch: self.set_scatter_param(ch["new"]), names="value")
        self.diff_a = w.Dropdown(options=[], description="diff A")
        self.diff_b = w.Dropdown(options=[], description="diff B")
        self.diff_a.observe(self._on_diff_choice, names="value")
        self.diff_b.observe(self._on_diff_choice, names="value")
        self.diff_view = w.HTML()
        self.status = w.HTML()
        self._update_summary_charts()
        # select before the BokehModels snapshot their documents: the frontend's first state
        # then has the curves (patches sent before a view exists can be lost)
        self._building = True
        self.select(_initial_selection(self, initial))
        self._building = False
        objective_note = (f"objective <b>{html.escape(objective[0])}</b> ({objective[1]})"
                          if objective else "no metrics logged yet")
        super().__init__([
            w.HTML(f"<h3>{html.escape(title)}</h3><p>{len(self.frame)} runs · {objective_note}</p>"),
            w.HBox([self.filter_box, self.count_label]), BokehModel(self.table),
            w.HBox([self.metric_menu, self.x_menu, self.smooth_slider, self.log_toggle]),
            BokehModel(row(self.curve_linear, self.curve_log)),
            self.scatter_menu, BokehModel(row(views.pc_figure(self.pc_source, self.pc_axes), self.scatter_fig)),
            w.HBox([self.diff_a, self.diff_b]), self.diff_view, self.status,
        ])
        self._update_count()
        self._start_polling()

    # -- state, driven by the controls or by code -------------------------------------------

    def set_filter(self, text: str) -> None:
        """Show only runs with ``text`` in any table column (case-insensitive)."""
        needle = (text or "").strip().lower()
        self.filter_text = needle
        if needle:
            cols = [c for c in self.columns if c in self.frame]
            hay = self.frame[cols].astype(str).apply(lambda r: " ".join(r).lower(), axis=1)
            self.visible_ids = list(self.frame.loc[hay.str.contains(needle, regex=False), "run_id"])
        else:
            self.visible_ids = list(self.frame["run_id"])
        with self._lock:
            self.table_source.data = self._table_data()
            kept = [r for r in self.selected_ids if r in self.visible_ids]
            self.table_source.selected.indices = [self.visible_ids.index(r) for r in kept]
        self._update_summary_charts()
        self._update_count()

    def select(self, run_ids: list[str]) -> None:
        """Overlay these runs' curves (loading them from the catalog) and start live updates."""
        unknown = [r for r in run_ids if r not in set(self.frame["run_id"])]
        if unknown:
            raise InvalidInput(f"not in this comparison: {', '.join(map(str, unknown[:5]))}")
        self.selected_ids = list(dict.fromkeys(run_ids))
        with self._lock:
            indices = [self.visible_ids.index(r) for r in self.selected_ids if r in self.visible_ids]
            if sorted(self.table_source.selected.indices) != sorted(indices):
                self.table_source.selected.indices = indices
        self._load_curves()
        self._update_curves()
        options = [(f"{r} {self._name(r)}", r) for r in self.selected_ids]
        self._muted = True
        try:
            self.diff_a.options, self.diff_b.options = options, options
            if len(self.selected_ids) >= 2:
                self.diff_a.value, self.diff_b.value = self.selected_ids[0], self.selected_ids[1]
        finally:
            self._muted = False
        if len(self.selected_ids) >= 2:
            self.diff(self.selected_ids[0], self.selected_ids[1])
        else:
            self.diff_view.value = "<i>select two runs to see what differs between them</i>"
        self._update_count()
        if not self._building:
            self._start_polling()

    def set_metric(self, key: str) -> None:
        if key not in self.metric_keys:
            raise InvalidInput(f"unknown metric {key!r}; these were logged: {', '.join(self.metric_keys)}")
        self.metric = key
        self._load_curves()
        self._update_curves()

    def set_x(self, x: str) -> None:
        if x not in X_AXES.values():
            raise InvalidInput(f"x axis must be one of {', '.join(X_AXES.values())}, got {x!r}")
        if x == "epoch" and "epoch" not in self.metric_keys:
            raise InvalidInput("the epoch axis needs runs that log an 'epoch' metric "
                               "(run.log({'epoch': e}, step=...)); use 'step' or 'wall_s'")
        self.x = x
        self._load_curves()
        self._update_curves()

    def set_smoothing(self, weight: float) -> None:
        if not 0 <= weight < 1:
            raise InvalidInput(f"smoothing must be in [0, 1), got {weight}")
        self.smoothing = float(weight)
        self._update_curves()

    def set_log(self, on: bool) -> None:
        self.log_scale = bool(on)
        self.curve_linear.visible, self.curve_log.visible = not on, bool(on)

    def set_scatter_param(self, param: str) -> None:
        if param not in self.param_keys:
            raise InvalidInput(f"unknown param {param!r}; known: {', '.join(self.param_keys)}")
        self.scatter_param = param
        self._update_summary_charts()

    def diff(self, run_a: str, run_b: str) -> str:
        """Show (and return) the diff view of two runs: params, metrics, environment, code."""
        with query.catalog(self.workspace, fresh=False) as session:
            a, b = query.run_details(session, run_a), query.run_details(session, run_b)
            lineage = run_datasets(session, [a["run_id"], b["run_id"]])
        html_text = views.diff_html(a, b, self._code(a.get("snapshot_oid")), self._code(b.get("snapshot_oid")),
                                    lineage.get(a["run_id"]), lineage.get(b["run_id"]))
        self.diff_view.value = html_text
        return html_text

    def best_run(self) -> str | None:
        if not self.objective:
            return None
        col = f"metrics.{self.objective[0]}"
        rows = self.frame[self.frame["run_id"].isin(self.visible_ids) & self.frame[col].notna()] \
            if col in self.frame else self.frame.iloc[0:0]
        if (rows["status"] == "finished").any():  # a diverged, failed run is no "best"
            rows = rows[rows["status"] == "finished"]
        if not len(rows):
            return None
        idx = rows[col].idxmin() if self.objective[1] == "min" else rows[col].idxmax()
        return str(rows.loc[idx, "run_id"])

    def refresh(self) -> bool:
        """Re-read statuses and the selected runs' curves; True while any of them still runs."""
        with query.catalog(self.workspace) as session:
            fresh = query.runs_frame(session)
        fresh = fresh[fresh["run_id"].isin(self.frame["run_id"])]
        with self._lock:
            old = self.frame
            self.frame = fresh.set_index("run_id").reindex(old["run_id"]).reset_index()
            if "datasets" in old:
                self.frame["datasets"] = list(old["datasets"])
            for col in self.columns:
                if col not in self.frame:
                    self.frame[col] = None
            self.table_source.data = self._table_data()
        self._load_curves()
        self._update_curves()
        self._update_summary_charts()
        return self._any_running()

    def close(self) -> None:
        """Stop live updates, then close the widget."""
        self._stop.set()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        _ensure_bokehjs()
        return super()._repr_mimebundle_(**kwargs)

    # -- internals ------------------------------------------------------------------------------

    def _name(self, run_id: str) -> str:
        row = self.frame.loc[self.frame["run_id"] == run_id, "name"]
        return str(row.iloc[0]) if len(row) else ""

    def _table_data(self) -> dict[str, list[Any]]:
        rows = self.frame.set_index("run_id").loc[self.visible_ids].reset_index()
        out: dict[str, list[Any]] = {}
        for c in self.columns:
            values = list(rows[c]) if c in rows else [None] * len(rows)
            if c.startswith("metrics.") or c == "duration_s":
                import pandas as pd

                out[c] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
            else:
                out[c] = [views.cell_text(v) for v in values]
        return out

    def _on_table_select(self, _attr: str, _old: list[int], new: list[int]) -> None:
        ids = [self.visible_ids[i] for i in new if 0 <= i < len(self.visible_ids)]
        if ids != self.selected_ids:
            self.select(ids)

    def _on_diff_choice(self, _change: Any) -> None:
        if self._muted:
            return
        a, b = self.diff_a.value, self.diff_b.value
        if a and b and a != b:
            self.diff(a, b)

    def _load_curves(self) -> None:
        if not self.selected_ids or not self.metric:
            self._curves = {}
            return
        with query.catalog(self.workspace, fresh=False) as session:
            frame = query.metric_curves(session, self.selected_ids, self.metric)
            epochs = query.metric_curves(session, self.selected_ids, "epoch") if self.x == "epoch" else None
        self._curves = {rid: g for rid, g in frame.groupby("run_id", sort=False)}
        self._epochs = {rid: g for rid, g in epochs.groupby("run_id", sort=False)} if epochs is not None else {}

    def curve_data(self) -> dict[str, list[Any]]:
        """What the curve chart shows: one line per selected run, x and smoothed y."""
        data: dict[str, list[Any]] = {"xs": [], "ys": [], "raw": [], "color": [], "run": []}
        for i, rid in enumerate(self.selected_ids):
            g = self._curves.get(rid)
            if g is None or not len(g):
                continue
            raw = [float(v) for v in g["value"]]
            if self.x == "epoch":  # the epoch logged at (or interpolated between) each step
                e = self._epochs.get(rid)
                if e is None or not len(e):
                    continue
                import numpy as np

                data["xs"].append([float(v) for v in np.interp(g["step"], e["step"], e["value"])])
            else:
                data["xs"].append([float(v) for v in g[self.x]])
            data["raw"].append(raw)
            data["ys"].append(views.ema(raw, self.smoothing))
            data["color"].append(views.PALETTE[i % len(views.PALETTE)])
            data["run"].append(f"{rid} {self._name(rid)}")
        return data

    def _update_curves(self) -> None:
        data = self.curve_data()
        with self._lock:
            self.curve_source.data = data
            for fig in (self.curve_linear, self.curve_log):
                fig.title.text = self.metric or ""
                fig.xaxis.axis_label = [k for k, v in X_AXES.items() if v == self.x][0]

    def _update_summary_charts(self) -> None:
        rows = self.frame[self.frame["run_id"].isin(self.visible_ids)].reset_index(drop=True)
        best = self.best_run()
        if not self.objective or not self.param_keys:
            return
        import numpy as np
        import pandas as pd

        # numpy columns: bokeh sends them as binary buffers, which keeps 1,000 runs fast
        ocol = f"metrics.{self.objective[0]}"
        axes = [f"params.{p}" for p in self.param_keys] + [ocol]
        n = len(rows)
        norm = np.column_stack([np.asarray(views.normalise(rows[a]) if a in rows else [np.nan] * n, dtype=float)
                                for a in axes]) if n else np.empty((0, len(axes)))
        runs = [str(r) for r in rows["run_id"]]
        best_mask = np.array([r == best for r in runs], dtype=bool)
        objective = pd.to_numeric(rows[ocol], errors="coerce").to_numpy(dtype=float) if ocol in rows \
            else np.full(n, np.nan)
        colors = [views.BEST_COLOR if b else views.ramp(v) for b, v in zip(best_mask, norm[:, -1], strict=True)]
        # one segment per run and pair of neighbouring axes: flat columns, one glyph
        k = len(axes) - 1
        order = np.argsort(best_mask, kind="stable")  # the best run drawn last, on top
        pc = {"x0": np.tile(np.arange(k, dtype=float), n), "x1": np.tile(np.arange(1, k + 1, dtype=float), n),
              "y0": norm[order, :-1].ravel(), "y1": norm[order, 1:].ravel(),
              "color": [colors[i] for i in order for _ in range(k)],
              "width": np.repeat(np.where(best_mask, 4.0, 1.5)[order], k),
              "run": [runs[i] for i in order for _ in range(k)], "objective": np.repeat(objective[order], k)}
        pcol = f"params.{self.scatter_param}"
        nums = pd.to_numeric(rows[pcol], errors="coerce") if pcol in rows else pd.Series([], dtype=float)
        xs = nums.to_numpy(dtype=float) if len(nums) and nums.notna().all() else \
            np.asarray(views.normalise(rows[pcol]) if pcol in rows else [], dtype=float)
        x_label = self.scatter_param or ""
        if len(xs) > 1 and (xs > 0).all() and xs.max() / xs.min() >= 100:  # decades: plot log10
            xs, x_label = np.log10(xs), f"log10({x_label})"
        with self._lock:
            self.scatter_fig.xaxis.axis_label = x_label
            self.pc_source.data = pc
            self.pc_axes.data = {"x": list(range(len(axes))), "name": [*self.param_keys, self.objective[0]]}
            self.scatter_source.data = {
                "x": xs, "y": objective, "run": runs,
                "label": [views.cell_text(v) for v in rows[pcol]] if pcol in rows else [],
                "color": [views.BEST_COLOR if b else "#1f77b4" for b in best_mask],
                "size": np.where(best_mask, 14.0, 8.0)}

    def _update_count(self) -> None:
        self.count_label.value = (f"{len(self.visible_ids)} of {len(self.frame)} runs shown · "
                                  f"{len(self.selected_ids)} selected")

    def _code(self, oid: str | None) -> str | None:
        if not oid:
            return None
        try:
            return notebook_code(self.workspace.objects.read_bytes(oid))
        except Exception:  # noqa: BLE001 - a missing snapshot only empties the code diff
            return None

    def _any_running(self) -> bool:
        rows = self.frame[self.frame["run_id"].isin(self.selected_ids)]
        return bool((rows["status"] == "running").any())

    def _start_polling(self) -> None:
        if self._poller is not None and self._poller.is_alive():
            return
        if not self._any_running() or self._stop.is_set():
            return
        self._poller = threading.Thread(target=self._poll, name="dlbench-compare-live", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        self.status.value = "<i>live: following running runs</i>"
        while not self._stop.wait(self.poll_interval):
            try:
                if not self.refresh():
                    break
            except Exception as e:  # noqa: BLE001 - shown in the widget, polling stops
                self.status.value = f"<i>live update stopped: {html.escape(str(e))}</i>"
                return
        self.status.value = ""


def compare(runs: Any = None, where: str | None = None, project: str | None = None,
            objective: Any = None, workspace: Workspace | None = None,
            poll_interval: float = 1.0) -> CompareWidget:
    """Build the comparison widget over a sweep (anything with ``.runs``), a list of run ids,
    or the runs matching ``where``/``project``; the best runs by the objective start selected."""
    ws = workspace or Workspace.find()
    ids: list[str] | None = None
    title = "Compare runs"
    if runs is not None:
        raw = getattr(runs, "runs", runs)
        raw = raw() if callable(raw) else raw
        if isinstance(raw, str) or not hasattr(raw, "__iter__"):
            raise InvalidInput("compare() takes a sweep, a list of run ids, or where=/project= filters; "
                               f"got {type(runs).__name__}")
        ids = [r if isinstance(r, str) else str(getattr(r, "run_id", getattr(r, "id", r))) for r in raw]
        if objective is None:
            objective = getattr(runs, "objective", None)
        if hasattr(runs, "runs"):
            title = f"Sweep {getattr(runs, 'name', None) or getattr(runs, 'id', '')}".strip()
    with query.catalog(ws) as session:
        if ids is not None:
            ids = [query.resolve_run(session, r) for r in ids]
        frame = query.runs_frame(session, project=project, where=where)
        if ids is not None:
            frame = frame[frame["run_id"].isin(ids)]
        lineage = run_datasets(session, list(frame["run_id"]))
    if lineage:  # a datasets column only when some of these runs read or wrote one
        frame = frame.assign(datasets=[_lineage_text(lineage.get(r, {})) for r in frame["run_id"]])
    if objective is not None:
        objective = views.parse_objective(objective)
    return CompareWidget(frame, ws, objective=objective, poll_interval=poll_interval, title=title)


def run_datasets(session: Any, run_ids: list[str]) -> dict[str, dict[str, str]]:
    """``{run_id: {"inputs": "digits@v2, …", "outputs": …}}`` where lineage was recorded."""
    has = session.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'run_dataset_rows'")[0][0]
    if not has or not run_ids:
        return {}
    out: dict[str, dict[str, str]] = {}
    for rid, direction, text in session.execute(
            "SELECT run_id, direction, string_agg(name || '@' || version, ', ' ORDER BY name) "
            "FROM run_dataset_rows WHERE run_id IN (SELECT unnest(?::VARCHAR[])) "
            "GROUP BY run_id, direction", [run_ids]):
        out.setdefault(rid, {})[f"{direction}s"] = text
    return out


def _lineage_text(lineage: dict[str, str]) -> str:
    """``digits@v1 → labels@v3``: what a run read, then what it wrote."""
    parts = [lineage.get("inputs", "")] + ([f"→ {lineage['outputs']}"] if lineage.get("outputs") else [])
    return " ".join(p for p in parts if p)


def _initial_selection(widget: CompareWidget, count: int) -> list[str]:
    """The best few runs by the objective, else the most recent ones."""
    frame = widget.frame
    if widget.objective and f"metrics.{widget.objective[0]}" in frame:
        col = f"metrics.{widget.objective[0]}"
        ranked = frame[frame[col].notna()].sort_values(col, ascending=widget.objective[1] == "min")
        if len(ranked):
            return list(ranked["run_id"].head(count))
    return list(frame["run_id"].head(count))
