"""The ``dlbench`` command: a thin shell over the library, mirroring the ``%dlbench`` magic."""

from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import CatalogStale, DlbenchError

# command → the module that registers it. Only the module of the command being run is imported
# (each pulls in its own heavy libraries: numpy, pyarrow, the scheduler), so `dlbench data add`
# does not pay for `dlbench sweep`; any other argv (`--help`, a typo) registers every module.
_COMMANDS = {"runs": "runs", "sql": "sql", "doctor": "doctor", "run": "jobs", "jobs": "jobs",
             "resources": "jobs", "worker": "jobs", "rerun": "rerun", "batch": "rerun", "data": "data",
             "report": "report", "sweep": "sweep", "sweeps": "sweep"}
_ORDER = ("runs", "sql", "doctor", "jobs", "rerun", "data", "report", "sweep")


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (after the global ``--workspace DIR``), if any."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--workspace":
            i += 2
        elif arg.startswith("-"):
            return None  # --help, --workspace=DIR or an unknown option: let argparse see everything
        else:
            return arg
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given ``argv`` naming a known command) only that command's part."""
    from importlib import import_module

    command = _command_of(argv) if argv is not None else None
    modules = [_COMMANDS[command]] if command in _COMMANDS else list(_ORDER)
    parser = argparse.ArgumentParser(
        prog="dlbench", description="Track, query and repair jupyter-dlbench workspaces.")
    parser.add_argument("--workspace", metavar="DIR",
                        help="the .dlbench folder to use (default: DLBENCH_HOME or the nearest one)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in modules:
        import_module(f"{__name__}.{name}").register(sub)
    if command not in sub.choices and len(modules) == 1:  # the table above is out of date
        for name in _ORDER:
            if name not in modules:
                import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", CatalogStale)
            warnings.showwarning = _print_warning
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


def _print_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                   file: object = None, line: str | None = None) -> None:
    """A warning (the catalog shown as it was on a full disk) is one line, like our errors."""
    print(f"dlbench: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
