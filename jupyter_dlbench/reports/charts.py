"""Static bokeh charts for reports: metric curves, parallel coordinates, param scatter.

Bokeh is imported here only, on first use: ``import jupyter_dlbench`` stays fast.
"""

from __future__ import annotations

import math
from typing import Any

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def metric_figure(key: str, curves: dict[str, Any], x: str = "step") -> Any:
    """One chart of metric ``key``: a line per run (``curves``: label -> DataFrame)."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    fig = figure(title=key, height=260, width=520, x_axis_label=x, y_axis_label=key,
                 tools="pan,wheel_zoom,box_zoom,reset,save,hover",
                 tooltips=[("run", "@run"), (x, f"@{x}"), (key, "@value")])
    for i, (label, frame) in enumerate(curves.items()):
        src = ColumnDataSource({x: list(frame[x]), "value": list(frame["value"]),
                                "run": [label] * len(frame)})
        fig.line(x, "value", source=src, color=PALETTE[i % len(PALETTE)], line_width=2,
                 legend_label=label if len(curves) > 1 else key)
    fig.legend.location = "top_right" if not key.lower().count("acc") else "bottom_right"
    fig.legend.click_policy = "hide"
    return fig


def axis_values(column: Any) -> tuple[list[float], list[str]]:
    """A param/metric column mapped onto [0, 1] (numbers by min–max, others by category)."""
    import pandas as pd

    nums = pd.to_numeric(column, errors="coerce")
    if nums.notna().sum() == column.notna().sum() and nums.notna().any():
        lo, hi = float(nums.min()), float(nums.max())
        if wide_positive(nums):  # learning rates and friends: spread decades evenly
            logs = nums.astype(float).map(math.log10)
            span = math.log10(hi) - math.log10(lo)
            return [(v - math.log10(lo)) / span if not math.isnan(v) else float("nan") for v in logs], \
                [f"{lo:.4g}", f"{hi:.4g}"]
        span = hi - lo
        norm = [0.5 if span == 0 else (v - lo) / span if not math.isnan(v) else float("nan")
                for v in nums.astype(float)]
        return norm, [f"{lo:.4g}", f"{hi:.4g}"]
    cats = sorted({str(v) for v in column if v is not None and v == v})
    pos = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
    return [pos.get(str(v), float("nan")) if v is not None and v == v else float("nan")
            for v in column], [cats[0], cats[-1]] if cats else ["", ""]


def wide_positive(nums: Any) -> bool:
    """Positive numbers spanning two decades or more, which read best on a log axis."""
    vals = nums.dropna()
    return bool(len(vals) > 1 and (vals > 0).all() and vals.max() / vals.min() >= 100)


def parallel_coordinates(frame: Any, params: list[str], objective: str, best_run: str | None) -> Any:
    """Each run a polyline across normalised param axes ending at the objective axis."""
    from bokeh.models import ColumnDataSource, FixedTicker, Label
    from bokeh.plotting import figure

    axes = [f"params.{p}" for p in params] + [f"metrics.{objective}"]
    names = params + [objective]
    fig = figure(title=f"parameters → {objective}", height=300, width=max(420, 120 * len(axes)),
                 x_range=(-0.3, len(axes) - 0.7), y_range=(-0.1, 1.15), tools="pan,reset,save,hover",
                 tooltips=[("run", "@run"), (objective, "@objective")])
    cols = {a: axis_values(frame[a]) if a in frame else ([float("nan")] * len(frame), ["", ""])
            for a in axes}
    obj_norm = cols[axes[-1]][0]
    xs, ys, colors, widths, runs, objs = [], [], [], [], [], []
    for i, rid in enumerate(frame["run_id"]):
        xs.append(list(range(len(axes))))
        ys.append([cols[a][0][i] for a in axes])
        best = rid == best_run
        v = obj_norm[i]
        colors.append("#d62728" if best else _ramp(v))
        widths.append(4 if best else 1.5)
        runs.append(str(rid))
        objs.append(frame[axes[-1]].iloc[i] if axes[-1] in frame else None)
    fig.multi_line("xs", "ys", source=ColumnDataSource(
        {"xs": xs, "ys": ys, "color": colors, "width": widths, "run": runs, "objective": objs}),
        line_color="color", line_width="width", line_alpha=0.8)
    fig.xaxis.ticker = FixedTicker(ticks=list(range(len(axes))))
    fig.xaxis.major_label_overrides = {i: n for i, n in enumerate(names)}
    fig.yaxis.visible = False
    for i, a in enumerate(axes):
        fig.segment(x0=i, y0=0, x1=i, y1=1, line_color="black")
        lo, hi = cols[a][1]
        fig.add_layout(Label(x=i, y=-0.08, text=lo, text_font_size="9pt", text_align="center"))
        fig.add_layout(Label(x=i, y=1.03, text=hi, text_font_size="9pt", text_align="center"))
    return fig


def _ramp(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "#bbbbbb"
    r, g, b = (int(68 + (253 - 68) * v), int(1 + (231 - 1) * v), int(84 + (37 - 84) * v))
    return f"#{r:02x}{g:02x}{b:02x}"


def scatter(frame: Any, param: str, objective: str, best_run: str | None) -> Any:
    """A param against the objective, one dot per run, the best run in red."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    pcol, ocol = f"params.{param}", f"metrics.{objective}"
    x, labels = axis_values(frame[pcol]) if pcol in frame else ([], ["", ""])
    import pandas as pd

    nums = pd.to_numeric(frame[pcol], errors="coerce") if pcol in frame else None
    numeric = nums is not None and nums.notna().all()
    xs = list(nums.astype(float)) if numeric else x
    log_x = bool(numeric and wide_positive(nums))
    fig = figure(title=f"{param} vs {objective}", height=260, width=420, x_axis_label=param,
                 x_axis_type="log" if log_x else "linear",
                 y_axis_label=objective, tools="pan,wheel_zoom,reset,save,hover",
                 tooltips=[("run", "@run"), (param, "@label"), (objective, "@y")])
    best = [rid == best_run for rid in frame["run_id"]]
    fig.scatter("x", "y", source=ColumnDataSource({
        "x": xs, "y": list(frame[ocol]) if ocol in frame else [None] * len(frame),
        "run": [str(r) for r in frame["run_id"]],
        "label": [str(v) for v in frame[pcol]] if pcol in frame else [""] * len(frame),
        "color": ["#d62728" if b else "#1f77b4" for b in best],
        "size": [14 if b else 8 for b in best]}), color="color", size="size")
    return fig


def render_inline(figures: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """BokehJS + CSS inline (no CDN: the file works offline) and one div per named figure."""
    from bokeh.embed import components
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import INLINE

    if not figures:
        return "", {}
    # only the BokehJS parts these figures use (1.3 MB for plots, not INLINE's 3.9 MB)
    bundle = bundle_for_objs_and_resources(list(figures.values()), INLINE)
    css = "".join(f"<style>{c}</style>" for c in bundle.css_raw)
    script, divs = components(figures)
    return css + bundle.scripts() + "\n" + script, dict(divs)
