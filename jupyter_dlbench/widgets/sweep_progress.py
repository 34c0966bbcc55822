"""The live progress widget of a sweep: trials table, objective chart, best run, cancel.

The sweep runs in the background; a daemon thread polls it about once a second and pushes
what changed to the browser. All rendering is in :meth:`SweepProgress.update`, a function of the
trial list, so tests (and a user replaying a finished sweep) can call it directly.

Every string that came from a user (parameter values, names, error messages) is escaped with
:func:`html.escape` before it enters an ``HTML`` widget: a parameter value is data, not markup.
The chart is a bokeh figure in a ``jupyter_bokeh`` ``BokehModel``; its data source is updated
in place, so the browser receives a small patch instead of a new plot each second.
"""

from __future__ import annotations

import html
import math
import threading
from typing import Any

import ipywidgets as w
from bokeh.models import BasicTicker, ColumnDataSource, HoverTool
from bokeh.plotting import figure
from jupyter_bokeh.widgets import BokehModel

STATUS_COLORS = {
    "queued": "#9e9e9e", "starting": "#90caf9", "running": "#1e88e5", "finished": "#2e7d32",
    "pruned": "#f9a825", "failed": "#c62828", "lost": "#6d4c41", "cancelled": "#616161",
}
TERMINAL = ("finished", "pruned", "failed", "lost", "cancelled")
MAX_POLL_FAILURES = 5
CELL = "padding:2px 10px;text-align:right"
_bokehjs_loaded = False


def ensure_bokehjs() -> None:
    """Put BokehJS on the page once per kernel, inline, so the chart works offline.

    jupyter_bokeh's view calls ``window.Bokeh``; the default ``output_notebook()`` fetches it from
    a CDN, which fails without network. ``INLINE`` embeds it (about 1 MB, once).
    """
    global _bokehjs_loaded
    if _bokehjs_loaded:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)
    _bokehjs_loaded = True


def objective_parts(objective: Any) -> tuple[str, str]:
    """``"val_acc:max"`` (or an object with ``metric``/``direction``) → ``("val_acc", "max")``."""
    if objective is None:
        return "objective", "max"
    if isinstance(objective, str):
        metric, _, direction = objective.rpartition(":")
        return metric or objective, (direction if metric else "max").lower()
    if isinstance(objective, (tuple, list)) and len(objective) == 2:
        return str(objective[0]), str(objective[1]).lower()
    metric = next((getattr(objective, a) for a in ("metric", "name", "key") if hasattr(objective, a)), None)
    direction = next((getattr(objective, a) for a in ("direction", "mode") if hasattr(objective, a)), "max")
    return str(metric or objective), str(direction).lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _elapsed(seconds: Any) -> str:
    s = _number(seconds)
    if s is None:
        return ""
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(s), 60)
    return f"{m}m {s:02d}s" if m < 60 else f"{m // 60}h {m % 60:02d}m"


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def best_trial(trials: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    """The finished trial with the best final objective, as ``Sweep.best`` picks it."""
    scored = [t for t in trials if t.get("status") == "finished" and _number(t.get("objective")) is not None]
    if not scored:
        return None
    pick = min if direction == "min" else max
    return pick(scored, key=lambda t: _number(t.get("objective")) or 0.0)


class SweepProgress:
    """Live view of one sweep. ``display(SweepProgress(sweep))``, then ``.start()`` polling."""

    def __init__(self, sweep: Any, interval: float = 1.0) -> None:
        self.sweep = sweep
        self.interval = interval
        self.metric, self.direction = objective_parts(getattr(sweep, "objective", None))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.done = False

        self.header = w.HTML()
        self.best_label = w.HTML(value="<i>best: no finished trial yet</i>")
        self.table = w.HTML()
        self.message = w.HTML()
        self.cancel_button = w.Button(description="Cancel sweep", button_style="danger", icon="stop",
                                      tooltip="stop queued and running trials")
        self.cancel_button.on_click(self._on_cancel)

        self.source = ColumnDataSource(data=self._points([]))
        self.best_source = ColumnDataSource(data={"trial": [], "best": []})
        plot = figure(height=240, sizing_mode="stretch_width", x_axis_label="trial",
                      y_axis_label=self.metric,
                      title=f"{self.metric} per trial (dots, by status) and best so far ({self.direction}, line)",
                      tools="pan,wheel_zoom,box_zoom,reset,save")
        plot.xaxis.ticker = BasicTicker(min_interval=1, num_minor_ticks=0)  # trials are whole numbers
        plot.step("trial", "best", source=self.best_source, mode="after", line_width=2, color="#455a64")
        plot.scatter("trial", "objective", source=self.source, size=9, color="color",
                      line_color="black", line_width=0.5)
        plot.add_tools(HoverTool(tooltips=[("trial", "@trial"), ("status", "@status"),
                                           (self.metric, "@objective"), ("params", "@params")]))
        self.figure = plot
        self.chart = BokehModel(plot)
        self.box = w.VBox([self.header, self.best_label, self.chart, self.table,
                           w.HBox([self.cancel_button, self.message])])
        self.update([])

    # -- rendering (pure: a function of the trials) -------------------------------------------

    def _points(self, trials: list[dict[str, Any]]) -> dict[str, list[Any]]:
        rows = [t for t in trials if _number(t.get("objective")) is not None]
        return {
            "trial": [int(t["trial"]) for t in rows],
            "objective": [_number(t.get("objective")) for t in rows],
            "status": [str(t.get("status", "")) for t in rows],
            "color": [STATUS_COLORS.get(str(t.get("status")), "#000000") for t in rows],
            "params": [_params_text(dict(t.get("params") or {})) for t in rows],
        }

    def _best_line(self, trials: list[dict[str, Any]]) -> dict[str, list[Any]]:
        xs, ys, best = [], [], None
        pick = min if self.direction == "min" else max
        for t in sorted(trials, key=lambda t: int(t["trial"])):
            value = _number(t.get("objective"))
            if t.get("status") != "finished" or value is None:
                continue
            best = value if best is None else pick(best, value)
            xs.append(int(t["trial"]))
            ys.append(best)
        return {"trial": xs, "best": ys}

    def _table_html(self, trials: list[dict[str, Any]], best: dict[str, Any] | None) -> str:
        keys: list[str] = []
        for t in trials:
            keys += [k for k in (t.get("params") or {}) if k not in keys]
        e = html.escape
        head = "".join(f'<th style="{CELL}">{e(str(h))}</th>' for h in
                       ["trial", *keys, "status", self.metric, f"best {self.metric}", "elapsed", "run"])
        rows = []
        for t in sorted(trials, key=lambda t: int(t["trial"])):
            status = str(t.get("status", ""))
            params = t.get("params") or {}
            color = STATUS_COLORS.get(status, "#000000")
            title = f' title="{e(str(t["error"]))}"' if t.get("error") else ""
            cells = [e(str(t["trial"])), *(e(_fmt(params.get(k))) for k in keys)]
            cells.append(f'<span style="color:{color};font-weight:600"{title}>{e(status)}</span>')
            cells += [e(_fmt(_number(t.get("objective")))), e(_fmt(_number(t.get("best")))),
                      e(_elapsed(t.get("elapsed_s"))), e(str(t.get("run_id") or ""))]
            style = ' style="background:#e8f5e9"' if best is not None and t is best else ""
            rows.append(f"<tr{style}>" + "".join(f'<td style="{CELL}">{c}</td>' for c in cells) + "</tr>")
        if not rows:
            rows.append(f'<tr><td colspan="{len(keys) + 6}"><i>no trials yet</i></td></tr>')
        return ('<table class="dlbench-sweep-trials" style="border-collapse:collapse;font-size:12px">'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def update(self, trials: list[dict[str, Any]], done: bool | None = None) -> None:
        """Render ``trials`` (``sweep.trials()``'s rows) into the table, chart and labels."""
        trials = [dict(t) for t in trials]
        counts: dict[str, int] = {}
        for t in trials:
            counts[str(t.get("status", ""))] = counts.get(str(t.get("status", "")), 0) + 1
        finished = sum(counts.get(s, 0) for s in TERMINAL)
        if done is None:
            done = bool(trials) and finished == len(trials)
        best = best_trial(trials, self.direction)
        e = html.escape
        name = getattr(self.sweep, "name", None) or getattr(self.sweep, "id", "sweep")
        ident = getattr(self.sweep, "id", "")
        summary = " · ".join(f"{n} {e(s)}" for s, n in sorted(counts.items()))
        state = "done" if done else "running"
        with self._lock:
            self.header.value = (f"<b>sweep {e(str(name))}</b> <code>{e(str(ident))}</code> · "
                                 f"{e(self.metric)} ({e(self.direction)}) · {finished}/{len(trials)} "
                                 f"trials ended · {state}" + (f" · {summary}" if summary else ""))
            if best is not None:
                value = _number(best.get("objective"))
                self.best_label.value = (
                    f"<b>best so far</b>: trial {e(str(best['trial']))} · {e(self.metric)} = "
                    f"{e(_fmt(value))} · {e(_params_text(dict(best.get('params') or {})))}"
                    + (f" · run <code>{e(str(best['run_id']))}</code>" if best.get("run_id") else ""))
            self.table.value = self._table_html(trials, best)
            points, line = self._points(trials), self._best_line(trials)
            # assign only on change: each assignment is a patch sent to the browser
            if dict(self.source.data) != points:
                self.source.data = points
            if dict(self.best_source.data) != line:
                self.best_source.data = line
            if done:
                self.done = True
                self.cancel_button.disabled = True
                if self.cancel_button.description == "Cancel sweep":
                    self.cancel_button.description = "Sweep ended"

    # -- behaviour --------------------------------------------------------------------------

    def _on_cancel(self, _button: Any = None) -> None:
        self.cancel_button.disabled = True
        self.cancel_button.description = "Cancelling…"
        try:
            self.sweep.cancel()
        except Exception as exc:  # noqa: BLE001 - shown to the user in the widget, not lost
            self.message.value = f'<span style="color:#c62828">cancel failed: {html.escape(str(exc))}</span>'
            self.cancel_button.disabled = False
            self.cancel_button.description = "Cancel sweep"
            return
        self.cancel_button.description = "Cancelled"

    def poll_once(self) -> bool:
        """Refresh the sweep and render it; True once the sweep has ended."""
        self.sweep.refresh()
        done = bool(self.sweep.done)
        self.update(self.sweep.trials(), done=done)
        return done

    def _poll(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if self.poll_once():
                    return
                failures = 0
                self.message.value = ""
            except Exception as exc:  # noqa: BLE001 - a background thread has nowhere else to report
                failures += 1
                self.message.value = (f'<span style="color:#c62828">could not refresh the sweep: '
                                      f"{html.escape(str(exc))}</span>")
                if failures >= MAX_POLL_FAILURES:
                    return
            self._stop.wait(self.interval)

    def start(self) -> SweepProgress:
        """Poll in a daemon thread until the sweep ends (the kernel stays usable meanwhile)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, daemon=True,
                                            name=f"dlbench-sweep-progress-{getattr(self.sweep, 'id', '')}")
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def polling(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        ensure_bokehjs()
        display(self.box)

    def __repr__(self) -> str:
        return f"<SweepProgress {getattr(self.sweep, 'id', '')} {'done' if self.done else 'running'}>"

