"""Entry points: a report as a string, or written atomically into the run folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..store import Workspace
from . import data

FORMATS = ("html", "md")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def run_report(run: str, format: str = "html", workspace: Workspace | None = None,
               output_href: str | None = None) -> str:
    """The report of one run (id or unique prefix) as HTML or Markdown text."""
    _check_format(format)
    bundle = data.gather_run(workspace or Workspace.find(), run)
    if format == "md":
        from .markdown import run_markdown

        return run_markdown(bundle)
    from .html import run_html

    return run_html(bundle, output_href=output_href)


def report_for_runs(run_ids: list[str], objective: Any, format: str = "html", title: str = "Sweep report",
                    workspace: Workspace | None = None, trials: list[Any] | None = None) -> str:
    """A sweep-style report (leaderboard, parallel coordinates, importance) over any runs."""
    _check_format(format)
    bundle = data.gather_sweep(workspace or Workspace.find(), list(run_ids), objective, title, trials)
    if format == "md":
        from .markdown import sweep_markdown

        return sweep_markdown(bundle)
    from .html import sweep_html

    return sweep_html(bundle)


def sweep_runs(sweep: Any) -> list[str]:
    """Run ids of anything sweep-like: ``.runs`` as a list, or a method returning one."""
    runs = getattr(sweep, "runs", None)
    if callable(runs):
        runs = runs()
    if runs is None or isinstance(runs, str):
        raise InvalidInput(f"expected a sweep (an object with .runs) or a list of run ids, got {type(sweep).__name__}")
    return [r if isinstance(r, str) else str(getattr(r, "run_id", getattr(r, "id", r))) for r in runs]


def sweep_report(sweep: Any, format: str = "html", workspace: Workspace | None = None) -> str:
    """The report of a sweep object (``.runs``, ``.objective``, optionally ``.trials()``)."""
    trials = getattr(sweep, "trials", None)
    trials = trials() if callable(trials) else trials
    objective = getattr(sweep, "objective", None)
    if objective is None:
        raise InvalidInput("the sweep has no objective; pass objective= to report_for_runs")
    name = getattr(sweep, "name", None) or getattr(sweep, "id", None) or "sweep"
    return report_for_runs(sweep_runs(sweep), objective, format=format, title=f"Sweep {name}",
                           workspace=workspace, trials=list(trials or []))


def atomic_write(path: Path, text: str) -> None:
    """Write to a temp file beside ``path``, fsync, rename: readers never see half a report."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_run_report(run: str, workspace: Workspace | None = None, path: str | os.PathLike[str] | None = None,
                     format: str = "html") -> Path:
    """Write a run's report (default: ``runs/<run_id>/report.html``) and return its path."""
    _check_format(format)
    ws = workspace or Workspace.find()
    bundle = data.gather_run(ws, run)
    if format == "md":
        from .markdown import run_markdown

        text = run_markdown(bundle)
    else:
        from .html import run_html

        target_dir = Path(path).parent if path else ws.run_dir(bundle.run_id)
        href = None
        if bundle.output_notebook:
            href = os.path.relpath(bundle.output_notebook["file"], target_dir.absolute())
        text = run_html(bundle, output_href=href)
    out = Path(path) if path else ws.run_dir(bundle.run_id) / f"report.{format}"
    atomic_write(out, text)
    return out


class Report:
    """A rendered report that shows itself in a notebook: HTML inside a sandboxed iframe (its
    scripts cannot touch the notebook page), Markdown as Markdown."""

    def __init__(self, text: str, format: str, title: str = "report") -> None:
        self.text = text
        self.format = format
        self.title = title

    def __repr__(self) -> str:
        return f"<Report {self.title!r} ({self.format}, {len(self.text)} chars)>"

    def _repr_html_(self) -> str | None:
        if self.format != "html":
            return None
        import html

        return (f'<iframe title="{html.escape(self.title)}" sandbox="allow-scripts" '
                f'style="width:100%;height:900px;border:1px solid #ddd" '
                f'srcdoc="{html.escape(self.text, quote=True)}"></iframe>')

    def _repr_markdown_(self) -> str | None:
        return self.text if self.format == "md" else None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report to ``path`` atomically and return the path."""
        out = Path(path)
        atomic_write(out, self.text)
        return out


def report(target: Any, format: str = "html", workspace: Workspace | None = None,
           objective: Any = None) -> Report:
    """A run (id), a sweep (``.runs``) or a list of run ids (with ``objective``) as a Report."""
    _check_format(format)
    if isinstance(target, str):
        return Report(run_report(target, format, workspace), format, f"run {target}")
    if hasattr(target, "runs"):
        if objective is not None:
            return Report(report_for_runs(sweep_runs(target), objective, format, workspace=workspace),
                          format, "sweep")
        return Report(sweep_report(target, format, workspace), format, "sweep")
    if isinstance(target, (list, tuple)):
        if objective is None:
            raise InvalidInput("a report over a list of runs needs objective=, e.g. objective=('val_acc', 'max')")
        return Report(report_for_runs(list(target), objective, format, workspace=workspace), format, "runs")
    raise InvalidInput(f"report() takes a run id, a sweep or a list of run ids; got {type(target).__name__}")
