"""Run and sweep reports as GitHub-flavoured Markdown, for pasting into a pull request.

User strings are escaped twice over: HTML metacharacters become entities (GitHub renders raw
HTML in Markdown) and Markdown's own punctuation is backslash-escaped, so a run called
``<img src=x onerror=alert(1)>`` or ``a|b`` cannot break a table or inject markup.
"""

from __future__ import annotations

import html
import re
from typing import Any

from .data import RunBundle, SweepBundle
from .html import environment_rows, fmt

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def esc(value: Any) -> str:
    """One table-cell-safe, inert Markdown string."""
    text = html.escape(fmt(value), quote=True)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("\r", " ").replace("\n", "<br>")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(esc(h) for h in headers) + " |",
             "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def fence(text: str, lang: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 16) -> str:
    """A curve in ``width`` block characters, so a PR shows a metric's shape without images."""
    vals = [v for v in values if v == v and v not in (float("inf"), float("-inf"))]
    if not vals:
        return ""
    if len(vals) > width:
        vals = [vals[round(i * (len(vals) - 1) / (width - 1))] for i in range(width)]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return SPARKS[3] * len(vals)
    return "".join(SPARKS[min(7, int((v - lo) / (hi - lo) * 8))] for v in vals)


def run_markdown(bundle: RunBundle) -> str:
    info = bundle.info
    out = [f"## Run {esc(info.get('name'))} (`{esc(bundle.run_id)}`)", "",
           f"**{esc(info.get('status'))}** · project {esc(info.get('project'))} · "
           f"duration {esc(info.get('duration_s'))} s"
           + (f" · notebook {esc(info.get('notebook_path'))}" if info.get("notebook_path") else "")]
    if info.get("error"):
        out += ["", f"Error: {esc(info['error'])}"]
    if info["params"]:
        out += ["", "### Parameters", "", table(["param", "value"], [[k, v] for k, v in info["params"].items()])]
    metrics = bundle.user_metrics()
    if metrics:
        rows = []
        for k, m in metrics.items():
            best, mode = bundle.best(k)
            curve = bundle.curves.get(k)
            trend = sparkline([float(v) for v in curve["value"]]) if curve is not None else ""
            rows.append([k, m["last"], m["last_step"], f"{fmt(best)} ({mode})", m["count"], trend])
        out += ["", "### Metrics", "", table(["metric", "final", "at step", "best", "points", "trend"], rows)]
    if bundle.datasets:
        out += ["", "### Datasets"]
        for kind, rows in bundle.datasets.items():
            cols = list(rows[0].keys())
            out += ["", f"**{esc(kind)}**", "", table(cols, [[r.get(c) for c in cols] for r in rows])]
    out += ["", "### Environment and hardware", "",
            table(["", "value"], [[k, v] for k, v in environment_rows(info, bundle.gpu)])]
    if bundle.output_notebook:
        out += ["", f"Output notebook: {esc(bundle.output_notebook['path'])} "
                f"(object `{esc(bundle.output_notebook['oid'][:16])}`)"]
    if bundle.code_diff:
        out += ["", "<details><summary>Code changes since the previous run of this notebook, "
                f"{esc(bundle.previous_run)}</summary>", "", fence(bundle.code_diff, "diff"), "",
                "</details>"]
    elif bundle.previous_run:
        out += ["", f"Same code as the previous run of this notebook, {esc(bundle.previous_run)}."]
    if bundle.log_tail:
        out += ["", "<details><summary>Log (tail)</summary>", "",
                fence(bundle.log_tail[-2000:]), "", "</details>"]
    return "\n".join(out) + "\n"


def sweep_markdown(s: SweepBundle) -> str:
    board = s.leaderboard()
    params = [c for c in s.frame.columns if c.startswith("params.")]
    out = [f"## {esc(s.title)}", "",
           f"{len(s.frame)} runs · objective **{esc(s.objective)}** ({s.mode}imise)"
           + (f" · best run `{esc(s.best_run)}`" if s.best_run else ""), "", "### Leaderboard", "",
           table(["#", "run", "status", *[p[len("params."):] for p in params], s.objective],
                 [[i + 1, r["run_id"], r["status"], *[r.get(p) for p in params],
                   r.get(f"metrics.{s.objective}")]
                  for i, r in enumerate(board.to_dict(orient="records"))])]
    out += ["", "### Parameter importance", "",
            "η²: share of the objective's variance between groups of runs with the same param "
            "value (numeric params with over 5 values in 5 quantile bins); Spearman ρ gives the "
            "direction for numeric params.", ""]
    if s.importance:
        out.append(table(["param", "η²", "Spearman ρ", "values", "runs"],
                         [[r["param"], r["eta2"], r["spearman"], r["values"], r["runs"]]
                          for r in s.importance]))
    else:
        out.append("Not enough finished runs with varied params (needs 3).")
    out += ["", "### Failed and pruned trials", ""]
    out.append(table(["run / trial", "state", "why"], [[p["run_id"], p["state"], p["reason"]]
                                                        for p in s.problems]) if s.problems else "None.")
    return "\n".join(out) + "\n"
