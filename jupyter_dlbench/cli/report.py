"""``dlbench report RUN|SWEEP [--format html|md] [-o FILE]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import NotFound, RunNotFound
from ..reports import build
from .runs import workspace


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write a run's or a sweep's report (HTML or Markdown)",
                       description="Without -o, an HTML run report is written into the run folder "
                       "(runs/<id>/report.html) and its path printed; Markdown goes to stdout.")
    p.add_argument("target", metavar="RUN|SWEEP", help="a run id or sweep id (or a unique prefix)")
    p.add_argument("--format", choices=build.FORMATS, default="html",
                   help="html: one offline file with charts; md: Markdown for a pull request")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead ('-' for stdout)")
    p.set_defaults(handler=cmd_report)


def _sweep(ws: Any, ref: str) -> Any:
    """The sweep ``ref`` names, or None when there is no such sweep."""
    from ..sweeps.engine import load_sweep

    try:
        return load_sweep(ws, ref)
    except NotFound:
        return None


def cmd_report(args: argparse.Namespace) -> int:
    ws = workspace(args)
    try:
        if args.format == "html" and args.output is None:
            print(build.write_run_report(args.target, workspace=ws))
            return 0
        text = build.run_report(args.target, args.format, workspace=ws)
    except RunNotFound:
        sweep = _sweep(ws, args.target)
        if sweep is None:
            raise NotFound(f"no run or sweep matches {args.target!r}; `dlbench runs ls` lists the "
                           "runs, `dlbench sweeps ls` the sweeps") from None
        text = build.sweep_report(sweep, args.format, workspace=ws)
        if args.output is None and args.format == "html":
            args.output = str(ws.root / "sweeps" / sweep.id / "report.html")
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    build.atomic_write(out, text)
    print(out)
    return 0
