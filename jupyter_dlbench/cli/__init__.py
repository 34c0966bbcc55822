"""The ``dlbench`` command: a thin shell over the library, mirroring the ``%dlbench`` magic."""

from __future__ import annotations

import argparse
import sys

from ..errors import DlbenchError
from . import data, doctor, jobs, report, rerun, runs, sql, sweep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlbench", description="Track, query and repair jupyter-dlbench workspaces.")
    parser.add_argument("--workspace", metavar="DIR",
                        help="the .dlbench folder to use (default: DLBENCH_HOME or the nearest one)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    runs.register(sub)
    sql.register(sub)
    doctor.register(sub)
    jobs.register(sub)
    rerun.register(sub)
    data.register(sub)
    report.register(sub)
    sweep.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except DlbenchError as e:
        print(f"dlbench: error: {e.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `dlbench runs ls | head`
        sys.stderr.close()
        return 0
    except OSError as e:  # the system refused a path or a write: one line, never a traceback
        where = f": {str(e.filename)[:200]}" if e.filename else ""
        print(f"dlbench: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
