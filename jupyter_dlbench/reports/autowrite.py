"""``python -m jupyter_dlbench.reports.autowrite RUN_ID --workspace DIR`` (or ``--sweep SWEEP_ID``)

Started, detached, by ``Run.finish`` (tracking may not import this layer), and meant to be
started the same way when a sweep ends: folds the journals into the catalog, then writes
``runs/<run_id>/report.html`` or ``sweeps/<sweep_id>/report.html`` atomically. Failures go to
``report.log`` beside it rather than to a terminal nobody is watching.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

if __name__ == "__main__":
    # background work: at a lower priority, before the heavy imports, so a sweep's next trials
    # (or the user's training) keep the CPUs while reports of finished runs are written
    os.nice(19)

from ..errors import DlbenchError  # noqa: E402
from ..store import Workspace  # noqa: E402
from .build import atomic_write, sweep_report, write_run_report  # noqa: E402


def write_sweep_report(ws: Workspace, sweep_id: str) -> Path:
    """Write ``sweeps/<id>/report.html`` for a sweep (id or unique prefix)."""
    from ..sweeps.engine import load_sweep

    sweep = load_sweep(ws, sweep_id)
    out = ws.root / "sweeps" / sweep.id / "report.html"
    atomic_write(out, sweep_report(sweep, "html", workspace=ws))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_dlbench.reports.autowrite")
    parser.add_argument("target", metavar="RUN_ID", nargs="?")
    parser.add_argument("--sweep", action="store_true", help="TARGET is a sweep id")
    parser.add_argument("--stdin", action="store_true",
                        help="write the report of every run id read from stdin, one a line, until "
                             "end of input (a job runner's queue: the imports are paid once)")
    parser.add_argument("--workspace", required=True)
    args = parser.parse_args(argv)
    ws = Workspace.find_at(args.workspace)
    if args.stdin:
        code = 0
        for line in sys.stdin:
            if line.strip():
                code = max(code, _write(ws, line.strip(), sweep=False))
        return code
    if not args.target:
        parser.error("give a RUN_ID (or --sweep SWEEP_ID), or --stdin")
    return _write(ws, args.target, args.sweep)


def _write(ws: Workspace, target: str, sweep: bool) -> int:
    folder = ws.root / "sweeps" / target if sweep else ws.run_dir(target)
    try:
        if sweep:
            write_sweep_report(ws, target)
        else:
            write_run_report(target, workspace=ws)
    except Exception as e:  # noqa: BLE001 - nobody watches this process: keep the reason
        try:
            text = e.message if isinstance(e, DlbenchError) else traceback.format_exc()
            if folder.is_dir():
                (folder / "report.log").write_text(f"report.html could not be written: {text}\n",
                                                   encoding="utf-8")
        except OSError:
            pass
        print(f"dlbench report: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
