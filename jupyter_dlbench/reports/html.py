"""Run and sweep reports as one self-contained HTML file (BokehJS inline, no network).

Jinja2 with autoescape on: every user string (run names, params, metric keys, logs, code)
is escaped by the template engine, never by hand. Only bokeh's own output and our markup are
marked safe.
"""

from __future__ import annotations

import math
import time
from typing import Any

from . import charts
from .data import RunBundle, SweepBundle

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5} .num{text-align:right;font-variant-numeric:tabular-nums}
.status-finished{color:#2a7d2a} .status-failed,.status-crashed{color:#b22} .muted{color:#777}
pre{background:#f7f7f7;padding:.8em;overflow:auto;max-height:40em;font-size:.85em}
.add{background:#e6ffed} .del{background:#ffeef0} .hunk{color:#6f42c1}
.charts{display:flex;flex-wrap:wrap;gap:1em} details{margin:.5em 0}
"""

_BASE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>{{ css }}</style>
{{ bokeh_head }}
</head><body>
{% block body %}{% endblock %}
<p class="muted">Written by jupyter-dlbench on {{ written }}.</p>
</body></html>
"""

_RUN = """{% extends "base" %}{% block body %}
<h1>Run {{ info.name }} <span class="muted">{{ info.run_id }}</span></h1>
<p>project <b>{{ info.project }}</b> · status <b class="status-{{ info.status }}">{{ info.status }}</b>
 · started {{ info.started_at }} · duration {{ fmt(info.duration_s) }} s
{% if info.notebook_path %} · notebook <code>{{ info.notebook_path }}</code>{% endif %}</p>
{% if info.error %}<p class="status-failed">Error: {{ info.error }}</p>{% endif %}
<h2>Parameters</h2>
{% if info.params %}<table><tr><th>param</th><th>value</th></tr>
{% for k, v in info.params.items() %}<tr><td>{{ k }}</td><td class="num">{{ fmt(v) }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">no parameters recorded</p>{% endif %}
<h2>Metrics</h2>
{% if metrics %}<table><tr><th>metric</th><th>final</th><th>at step</th><th>best</th><th>min</th><th>max</th><th>points</th></tr>
{% for k, m in metrics.items() %}<tr><td>{{ k }}</td><td class="num">{{ fmt(m.last) }}</td><td class="num">{{ m.last_step }}</td>
<td class="num">{{ fmt(best(k)[0]) }} ({{ best(k)[1] }})</td><td class="num">{{ fmt(m.min) }}</td><td class="num">{{ fmt(m.max) }}</td><td class="num">{{ m['count'] }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">no metrics logged</p>{% endif %}
<div class="charts">{% for d in divs %}{{ d }}{% endfor %}</div>
{% if datasets %}<h2>Datasets</h2>{% for kind, rows in datasets.items() %}<h3>{{ kind }}</h3>
<table><tr>{% for c in rows[0].keys() %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for v in r.values() %}<td>{{ fmt(v) }}</td>{% endfor %}</tr>{% endfor %}</table>{% endfor %}{% endif %}
<h2>Environment and hardware</h2>
<table>{% for k, v in env_rows %}<tr><th>{{ k }}</th><td>{{ fmt(v) }}</td></tr>{% endfor %}</table>
{% if info.artifacts %}<h2>Artifacts</h2><table><tr><th>path</th><th>size</th><th>object</th></tr>
{% for a in info.artifacts %}<tr><td>{{ a.path }}</td><td class="num">{{ a.size }}</td><td><code>{{ a.oid[:16] }}</code></td></tr>{% endfor %}</table>{% endif %}
{% if output_nb %}<p>Output notebook: <a href="{{ output_nb.href }}">{{ output_nb.path }}</a> <span class="muted">(object {{ output_nb.oid[:16] }})</span></p>{% endif %}
<h2>Code</h2>
{% if diff %}<details open><summary>Changes since the previous run of this notebook, {{ previous }}</summary>
<pre>{% for cls, line in diff %}<span class="{{ cls }}">{{ line }}</span>
{% endfor %}</pre></details>{% elif previous %}<p class="muted">Same code as the previous run of this notebook, {{ previous }}.</p>
{% else %}<p class="muted">No earlier run of this notebook to compare with.</p>{% endif %}
{% if code %}<details><summary>The notebook's code</summary><pre>{{ code }}</pre></details>{% endif %}
<h2>Log (tail)</h2>
{% if log_tail %}<pre>{{ log_tail }}</pre>{% else %}<p class="muted">no output captured</p>{% endif %}
{% endblock %}"""

_SWEEP = """{% extends "base" %}{% block body %}
<h1>{{ s.title }}</h1>
<p>{{ s.frame|length }} runs · objective <b>{{ s.objective }}</b> ({{ s.mode }}imise)
{% if s.best_run %} · best run <b>{{ s.best_run }}</b>{% endif %}</p>
<h2>Leaderboard</h2>
<table><tr><th>#</th><th>run</th><th>status</th>{% for p in params %}<th>{{ p }}</th>{% endfor %}<th>{{ s.objective }}</th></tr>
{% for r in board %}<tr><td>{{ loop.index }}</td><td>{{ r.run_id }} {{ r.name }}</td><td class="status-{{ r.status }}">{{ r.status }}</td>
{% for p in params %}<td class="num">{{ fmt(r['params.' ~ p]) }}</td>{% endfor %}<td class="num"><b>{{ fmt(r['metrics.' ~ s.objective]) }}</b></td></tr>{% endfor %}
</table>
<div class="charts">{% for d in divs %}{{ d }}{% endfor %}</div>
<h2>Parameter importance</h2>
<p class="muted">η² (correlation ratio): the share of the variance of {{ s.objective }} that lies between
groups of runs with the same param value (numeric params with more than 5 values are cut into 5
quantile bins). 1 means the param alone explains the spread, 0 that it explains none. Spearman's ρ
gives the direction for numeric params. Descriptive only: with few runs, read it as a hint.</p>
{% if s.importance %}<table><tr><th>param</th><th>η²</th><th>Spearman ρ</th><th>distinct values</th><th>runs</th></tr>
{% for r in s.importance %}<tr><td>{{ r.param }}</td><td class="num">{{ fmt(r.eta2) }}</td><td class="num">{{ fmt(r.spearman) }}</td><td class="num">{{ r['values'] }}</td><td class="num">{{ r['runs'] }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">not enough finished runs with varied params (needs 3)</p>{% endif %}
<h2>Failed and pruned trials</h2>
{% if s.problems %}<table><tr><th>run / trial</th><th>state</th><th>why</th></tr>
{% for p in s.problems %}<tr><td>{{ p.run_id }}</td><td>{{ p.state }}</td><td>{{ p.reason }}</td></tr>{% endfor %}</table>
{% else %}<p class="muted">none</p>{% endif %}
{% if best_divs %}<h2>Best run's curves ({{ s.best_run }})</h2><div class="charts">{% for d in best_divs %}{{ d }}{% endfor %}</div>{% endif %}
{% endblock %}"""


def _env():  # type: ignore[no-untyped-def]
    from jinja2 import DictLoader, Environment, StrictUndefined

    env = Environment(loader=DictLoader({"base": _BASE, "run": _RUN, "sweep": _SWEEP}),
                      autoescape=True, undefined=StrictUndefined)
    env.globals["fmt"] = fmt
    return env


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.6g}"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return fmt(value.item())
        except (ValueError, TypeError):
            pass
    return str(value)


def diff_lines(diff: str) -> list[tuple[str, str]]:
    out = []
    for line in diff.splitlines():
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+") and not line.startswith("+++")
               else "del" if line.startswith("-") and not line.startswith("---") else "")
        out.append((cls, line))
    return out


def environment_rows(info: dict[str, Any], gpu: dict[str, Any]) -> list[tuple[str, Any]]:
    env = info.get("environment") or {}
    hw = info.get("hardware") or {}
    rows: list[tuple[str, Any]] = [
        ("python", env.get("python")), ("platform", env.get("platform")),
        ("host", info.get("hostname") or hw.get("hostname")), ("user", info.get("username")),
        ("CPUs", hw.get("cpu_count")),
        ("memory GiB", round((hw.get("memory_bytes") or 0) / 2**30, 1) if hw.get("memory_bytes") else None),
        ("GPUs", ", ".join(str(g.get("name", "?")) for g in hw.get("gpus") or []) or "none"),
        ("CUDA_VISIBLE_DEVICES", info.get("cuda_visible_devices")),
        ("GPU time (s)", gpu.get("gpu_seconds")),
        ("git commit", (info.get("git_commit") or "") + (" (dirty)" if info.get("git_dirty") else "")),
        ("executor", info.get("executor")), ("job", info.get("job_id")),
    ]
    rows += [(f"package {k}", v) for k, v in (env.get("packages") or {}).items()]
    return [(k, v) for k, v in rows if v not in (None, "")]


def run_html(bundle: RunBundle, output_href: str | None = None) -> str:
    """The run report; ``output_href`` is the link to the output notebook (default: the
    object file's path)."""
    figures = {k: charts.metric_figure(k, {bundle.run_id: frame}) for k, frame in bundle.curves.items()
               if len(frame)}
    head, divs = charts.render_inline(figures)
    from markupsafe import Markup

    out_nb = None
    if bundle.output_notebook:
        out_nb = dict(bundle.output_notebook, href=output_href or "file://" + bundle.output_notebook["file"])
    return _env().get_template("run").render(
        title=f"Run {bundle.info.get('name')} ({bundle.run_id})", css=Markup(_CSS),
        bokeh_head=Markup(head), written=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        info=bundle.info, metrics=bundle.user_metrics(), best=bundle.best,
        divs=[Markup(d) for d in divs.values()], datasets=bundle.datasets,
        env_rows=environment_rows(bundle.info, bundle.gpu), output_nb=out_nb,
        diff=diff_lines(bundle.code_diff) if bundle.code_diff else None,
        previous=bundle.previous_run, code=bundle.code, log_tail=bundle.log_tail)


def sweep_html(s: SweepBundle) -> str:
    board = s.leaderboard()
    params = [c[len("params."):] for c in s.frame.columns if c.startswith("params.")
              and s.frame[c].nunique(dropna=True) > 1] or \
        [c[len("params."):] for c in s.frame.columns if c.startswith("params.")][:6]
    figures: dict[str, Any] = {}
    if len(board) and params:
        figures["parallel"] = charts.parallel_coordinates(board, params, s.objective, s.best_run)
        top = s.importance[0]["param"] if s.importance else params[0]
        figures["scatter"] = charts.scatter(board, top, s.objective, s.best_run)
    best_keys = []
    if s.best is not None:
        for k, frame in s.best.curves.items():
            if len(frame):
                figures[f"best:{k}"] = charts.metric_figure(k, {s.best.run_id: frame})
                best_keys.append(f"best:{k}")
    head, divs = charts.render_inline(figures)
    from markupsafe import Markup

    return _env().get_template("sweep").render(
        title=s.title, css=Markup(_CSS), bokeh_head=Markup(head),
        written=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), s=s, params=params,
        board=board.to_dict(orient="records"),
        divs=[Markup(v) for k, v in divs.items() if k not in best_keys],
        best_divs=[Markup(divs[k]) for k in best_keys])
