"""Pure pieces of the comparison widget: smoothing, axes, diff HTML, bokeh figure builders.

No catalog access here: everything takes data in and gives data or models out, so the
widget's tests can check the numbers that end up in the ColumnDataSources.
"""

from __future__ import annotations

import difflib
import html
import json
import math
from typing import Any

from ..errors import InvalidInput

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
BEST_COLOR = "#d62728"


def ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard-style exponential moving average with bias correction (weight 0 = raw)."""
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    if weight == 0:
        return list(values)
    out, last, n = [], 0.0, 0
    for v in values:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            out.append(v)
            continue
        n += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** n))
    return out


def objective_mode(key: str) -> str:
    """Smaller is better for losses, errors and times; larger for everything else."""
    low = key.lower()
    return "min" if any(w in low for w in ("loss", "err", "mse", "mae", "perplex", "time",
                                           "latency", "wer", "cer")) else "max"


def cell_text(value: Any) -> str:
    """A table cell: floats short (0.3, not 0.30000000000000004), missing values empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def parse_objective(value: Any) -> tuple[str, str]:
    if isinstance(value, str) and value:
        return (value[1:], "min") if value.startswith("-") else (value, objective_mode(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[1] in ("min", "max"):
        return str(value[0]), str(value[1])
    raise InvalidInput(f"objective must be a metric name or (metric, 'min'|'max'), got {value!r}")


def normalise(column: Any) -> list[float]:
    """A column onto [0, 1]: numbers by min–max, anything else by sorted category."""
    import pandas as pd

    nums = pd.to_numeric(column, errors="coerce")
    if len(column) and nums.notna().sum() == column.notna().sum() and nums.notna().any():
        lo, hi = float(nums.min()), float(nums.max())
        if lo > 0 and hi / lo >= 100:  # learning rates and friends: spread decades evenly
            span = math.log10(hi / lo)
            return [float("nan") if math.isnan(v) else math.log10(v / lo) / span for v in nums.astype(float)]
        return [float("nan") if math.isnan(v) else 0.5 if hi == lo else (v - lo) / (hi - lo)
                for v in nums.astype(float)]
    cats = sorted({str(v) for v in column if v is not None and v == v})
    pos = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
    return [pos[str(v)] if v is not None and v == v else float("nan") for v in column]


def ramp(v: float) -> str:
    if v is None or math.isnan(v):
        return "#bbbbbb"
    r, g, b = (int(68 + 185 * v), int(1 + 230 * v), int(84 - 47 * v))
    return f"#{r:02x}{g:02x}{b:02x}"


# -- diff view ------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    if isinstance(value, (dict, list)):
        return html.escape(json.dumps(value, default=str, sort_keys=True))
    return "" if value is None else html.escape(str(value))


def _section(title: str, a: dict[str, Any], b: dict[str, Any], only_diff: bool) -> str:
    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        same = va == vb
        if only_diff and same:
            continue
        style = "" if same else ' style="background:#fff5d6"'
        rows.append(f"<tr{style}><td>{html.escape(str(key))}</td><td>{_cell(va)}</td><td>{_cell(vb)}</td></tr>")
    body = "".join(rows) or '<tr><td colspan="3"><i>no differences</i></td></tr>'
    return f"<h4>{html.escape(title)}</h4><table class='dlb-diff'>{body}</table>"


def diff_html(a: dict[str, Any], b: dict[str, Any], code_a: str | None, code_b: str | None,
              datasets_a: dict[str, Any] | None = None, datasets_b: dict[str, Any] | None = None) -> str:
    """Two runs side by side (``run_details`` dicts); every user string escaped."""
    head = (f"<table class='dlb-diff'><tr><th></th><th>{_cell(a['run_id'])} {_cell(a.get('name'))}</th>"
            f"<th>{_cell(b['run_id'])} {_cell(b.get('name'))}</th></tr>"
            f"<tr><td>status</td><td>{_cell(a.get('status'))}</td><td>{_cell(b.get('status'))}</td></tr>"
            f"<tr><td>duration s</td><td>{_cell(a.get('duration_s'))}</td><td>{_cell(b.get('duration_s'))}</td></tr></table>")
    parts = [head, _section("params", a["params"], b["params"], only_diff=False)]
    ma = {k: v["last"] for k, v in a["metrics"].items() if not k.startswith("sys/")}
    mb = {k: v["last"] for k, v in b["metrics"].items() if not k.startswith("sys/")}
    parts.append(_section("metrics (last value)", ma, mb, only_diff=False))
    env_a, env_b = _env(a), _env(b)
    parts.append(_section("environment (differences only)", env_a, env_b, only_diff=True))
    if datasets_a or datasets_b:
        parts.append(_section("datasets", datasets_a or {}, datasets_b or {}, only_diff=False))
    if code_a is not None and code_b is not None:
        diff = list(difflib.unified_diff(code_a.splitlines(), code_b.splitlines(),
                                         fromfile=str(a["run_id"]), tofile=str(b["run_id"]), lineterm="", n=2))
        lines = []
        for line in diff:
            color = ("#e6ffed" if line.startswith("+") else "#ffeef0" if line.startswith("-") else
                     "#f1f0ff" if line.startswith("@@") else "")
            style = f' style="background:{color}"' if color else ""
            lines.append(f"<span{style}>{html.escape(line)}</span>")
        body = "\n".join(lines) if lines else "identical code"
        parts.append(f"<h4>notebook code</h4><pre style='max-height:30em;overflow:auto'>{body}</pre>")
    else:
        parts.append("<h4>notebook code</h4><p><i>no code snapshot for one of the runs</i></p>")
    style = ("<style>.dlb-diff td,.dlb-diff th{border:1px solid #ddd;padding:2px 6px;"
             "text-align:left}.dlb-diff{border-collapse:collapse}</style>")
    return style + "".join(parts)


def _env(info: dict[str, Any]) -> dict[str, Any]:
    env = info.get("environment") or {}
    hw = info.get("hardware") or {}
    out: dict[str, Any] = {"python": env.get("python"), "platform": env.get("platform"),
                           "host": info.get("hostname"), "git commit": info.get("git_commit"),
                           "CUDA_VISIBLE_DEVICES": info.get("cuda_visible_devices"),
                           "GPUs": ", ".join(str(g.get("name")) for g in hw.get("gpus") or []) or None}
    out.update({f"package {k}": v for k, v in (env.get("packages") or {}).items()})
    return out


def curve_figures(source: Any) -> tuple[Any, Any]:
    """Linear- and log-scale figures over one source (log toggling swaps which is visible)."""
    from bokeh.plotting import figure

    figs = []
    for scale in ("linear", "log"):
        fig = figure(height=300, width=760, y_axis_type=scale, tools="pan,wheel_zoom,box_zoom,reset,save,hover",
                     tooltips=[("run", "@run")], visible=scale == "linear", title="")
        fig.multi_line("xs", "raw", source=source, line_color="color", line_alpha=0.2, line_width=1)
        fig.multi_line("xs", "ys", source=source, line_color="color", line_width=2, legend_field="run")
        fig.legend.click_policy = "hide"
        fig.legend.location = "top_right"
        figs.append(fig)
    return figs[0], figs[1]


def table_columns(frame_columns: list[str]) -> list[Any]:
    """DataTable columns; titles escaped and cells plain text (StringFormatter), never HTML."""
    from bokeh.models import NumberFormatter, StringFormatter, TableColumn

    cols = []
    for c in frame_columns:
        numeric = c == "duration_s" or c.startswith("metrics.")
        fmt = NumberFormatter(format="0.[0000]") if numeric else StringFormatter()
        title = c.replace("metrics.", "").replace("params.", "") if c.startswith(("params.", "metrics.")) else c
        cols.append(TableColumn(field=c, title=html.escape(title), formatter=fmt,
                                width=160 if c in ("run_id", "name") else 90))
    return cols


def pc_figure(source: Any, axes_source: Any) -> Any:
    from bokeh.models import LabelSet
    from bokeh.plotting import figure

    fig = figure(height=300, width=480, title="parameters → objective", tools="pan,reset,save,hover",
                 tooltips=[("run", "@run"), ("objective", "@objective")], y_range=(-0.1, 1.15))
    fig.segment("x0", "y0", "x1", "y1", source=source, line_color="color", line_width="width", line_alpha=0.8)
    fig.segment(x0="x", y0=0, x1="x", y1=1, source=axes_source, line_color="black")
    fig.add_layout(LabelSet(x="x", y=1.03, text="name", source=axes_source, text_font_size="9pt",
                            text_align="center"))
    fig.yaxis.visible = False
    fig.xaxis.visible = False
    return fig


def scatter_figure(source: Any) -> Any:
    from bokeh.plotting import figure

    fig = figure(height=300, width=380, title="param vs objective", tools="pan,wheel_zoom,reset,save,hover",
                 tooltips=[("run", "@run"), ("value", "@label"), ("objective", "@y")])
    fig.scatter("x", "y", source=source, color="color", size="size")
    return fig
