"""Run and sweep reports: one offline HTML file (BokehJS inline) or Markdown for a pull request.

Rendering modules import bokeh and jinja2 on first use only.
"""

from __future__ import annotations

from .build import (
    Report,
    report,
    report_for_runs,
    run_report,
    sweep_report,
    write_run_report,
)

__all__ = ["Report", "report", "report_for_runs", "run_report", "sweep_report", "write_run_report"]
