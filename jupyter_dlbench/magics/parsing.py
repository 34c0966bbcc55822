"""Turning a ``%dlbench …`` line into arguments without ever leaving the kernel.

Two things differ from a shell command line. The line arrives as raw text, so quotes are ours to
handle: a sweep token like ``opt="adam w",sgd`` must reach the spec parser with its quotes, since
they are part of the spec grammar. And argparse's habit of calling ``sys.exit`` on a bad
argument or after ``--help`` would raise ``SystemExit`` into the kernel; here a bad argument is a
one-line :class:`~jupyter_dlbench.errors.InvalidInput` and help is printed and returns.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from ..errors import InvalidInput

QUOTES = "'\""


class HelpShown(Exception):  # noqa: N818 - a signal, not an error
    """argparse printed help (or a version) and would have exited; the magic just returns."""


class MagicArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a typo never kills a cell with SystemExit."""

    commands: dict[str, MagicArgumentParser]

    def error(self, message: str) -> NoReturn:
        raise InvalidInput(f"{message} (see `{self.prog} --help`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise InvalidInput(message.strip())
        raise HelpShown()


def split_line(line: str) -> list[str]:
    """Split on whitespace outside quotes, keeping the quotes inside each token.

    Unlike :func:`shlex.split` this never fails: an unbalanced quote stays in its token, so the
    sweep spec parser can point at it (``unbalanced quote in 'name="a'``).
    """
    tokens: list[str] = []
    current: list[str] = []
    quote: str | None = None
    in_token = False
    for ch in line:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch.isspace():
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
        else:
            current.append(ch)
            in_token = True
            if ch in QUOTES:
                quote = ch
    if in_token:
        tokens.append("".join(current))
    return tokens


def unquote(token: str) -> str:
    """``"my notebook.ipynb"`` → ``my notebook.ipynb``: option values lose one pair of quotes."""
    if len(token) >= 2 and token[0] == token[-1] and token[0] in QUOTES:
        return token[1:-1]
    return token


def unquote_options(args: argparse.Namespace, keep: tuple[str, ...] = ()) -> argparse.Namespace:
    """Strip one pair of quotes from every string option except those named in ``keep``."""
    for key, value in vars(args).items():
        if key in keep:
            continue
        if isinstance(value, str):
            setattr(args, key, unquote(value))
        elif isinstance(value, list):
            setattr(args, key, [unquote(v) if isinstance(v, str) else
                                [unquote(x) for x in v] if isinstance(v, list) else v for v in value])
    return args


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _gpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GPUs like 1, 0.5 or 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"GPUs per run cannot be negative, got {value:g}")
    return value


def _add_sweep(sub: Any) -> MagicArgumentParser:
    p = sub.add_parser(
        "sweep", help="run a notebook over a grid or a random/Bayesian search of its parameters",
        description="Run the current notebook (or --notebook PATH) once per point of a parameter "
                    "space. Spec tokens: key=v1,v2 (a list), key=low..high[:log|:int|:uniform] "
                    "(a range, for --random N or --method tpe). Without --wait the sweep runs in "
                    "the background and the cell shows its live progress.",
        epilog="example: %dlbench sweep lr=1e-3,1e-4 batch_size=32,64 --concurrency 2")
    p.add_argument("spec", nargs="*", metavar="KEY=VALUES", help="the parameter space, one token per parameter")
    p.add_argument("--notebook", metavar="PATH", help="the notebook to run (default: this notebook, as last saved)")
    p.add_argument("--method", choices=["grid", "random", "tpe"],
                   help="grid (default when every key is a list), random, or tpe (Bayesian, Optuna)")
    p.add_argument("--grid", dest="method", action="store_const", const="grid", help="same as --method grid")
    p.add_argument("--random", type=_positive_int, metavar="N", dest="random_n",
                   help="random search with N trials (implies --method random unless tpe is asked for)")
    p.add_argument("--seed", type=int, metavar="S", help="seed for random and tpe sampling (reproducible)")
    p.add_argument("--concurrency", type=_positive_int, default=2, metavar="K", help="trials at once (default 2)")
    p.add_argument("--gpus", type=_gpus, default=0.0, metavar="G", help="GPUs per trial; fractions pack (default 0)")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", metavar="ADDR", help="Ray cluster address for --executor ray")
    p.add_argument("--objective", metavar="METRIC:max|min", default="val_acc:max",
                   help="the logged metric to optimise and its direction (default val_acc:max)")
    p.add_argument("--early-stop", choices=["median", "asha"],
                   help="stop trials whose intermediate objective lags the others")
    p.add_argument("--fresh-kernel", action="store_true",
                   help="a new kernel for every trial (default: reuse the previous trial's, reset)")
    p.add_argument("--max-runs", type=_positive_int, metavar="N", help="at most N trials")
    p.add_argument("--name", help="a name for the sweep")
    p.add_argument("--project", help="the project its runs are recorded under")
    p.add_argument("--dry-run", action="store_true", help="show the expanded trials as a table; run nothing")
    p.add_argument("--wait", action="store_true", help="block until the sweep ends and return the Sweep")
    return p


def _add_run(sub: Any) -> MagicArgumentParser:
    p = sub.add_parser("run", help="run a notebook once as a tracked job",
                       description="Queue the current notebook (or NOTEBOOK) as a job, like `dlbench run`.")
    p.add_argument("notebook", nargs="?", help="the notebook to run (default: this notebook, as last saved)")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="a parameter of the notebook's parameters cell (repeatable)")
    p.add_argument("--gpus", type=_gpus, default=0.0, metavar="G")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", metavar="ADDR")
    p.add_argument("--project")
    p.add_argument("--name")
    p.add_argument("--wait", action="store_true", help="run it now and block until it ends")
    return p


def build_parser() -> MagicArgumentParser:
    """The ``%dlbench`` grammar; ``sql`` takes the raw rest of the line and is dispatched first.

    ``parser.commands`` maps each subcommand to its own parser, so the magic can parse a
    subcommand's arguments intermixed (``lr=1,2 --wait hidden=3,4``), which argparse does not
    allow through subparsers.
    """
    parser = MagicArgumentParser(
        prog="%dlbench", description="jupyter-dlbench in a notebook: sweeps, jobs, runs and SQL.",
        epilog="`%%dlbench sql` takes a SELECT in the cell body. "
               "Auto-load with c.InteractiveShellApp.extensions = ['jupyter_dlbench'].")
    parser.add_argument("--workspace", metavar="DIR", help="the .dlbench folder (default: DLBENCH_HOME or the nearest)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=MagicArgumentParser)
    sub.required = True
    commands = {"sweep": _add_sweep(sub), "run": _add_run(sub)}
    runs = sub.add_parser("runs", help="the runs as a DataFrame")
    runs.add_argument("--project")
    runs.add_argument("--where", metavar="EXPR", help='a SQL filter, e.g. --where "params.lr < 0.01"')
    runs.add_argument("--all", action="store_true", help="include system runs")
    sub.add_parser("sql", help="one read-only SELECT over runs, params, metrics, artifacts → DataFrame",
                   usage="%(prog)s SELECT …   or   %%%%dlbench sql  (the statement in the cell)")
    data = sub.add_parser("data", help="datasets (same as `dlbench data …`)", add_help=False)
    data.add_argument("rest", nargs=argparse.REMAINDER)
    compare = sub.add_parser("compare", help="the comparison widget over a sweep or runs",
                             description="Compare a sweep (id, prefix or name), the runs named, or "
                                         "the runs matching --project/--where (default: all runs).")
    compare.add_argument("refs", nargs="*", metavar="SWEEP|RUN")
    compare.add_argument("--project")
    compare.add_argument("--where", metavar="EXPR")
    compare.add_argument("--objective", metavar="METRIC[:max|min]",
                         help="rank by this metric (a sweep brings its own)")
    parser.commands = {**commands, "runs": runs, "compare": compare}
    for p in parser.commands.values():
        # intermixed parsing formats the usage once and %-formats it again later; the `%` of
        # `%dlbench` would be read as a format directive, so freeze it escaped
        p.usage = p.format_usage().removeprefix("usage: ").strip().replace("%", "%%")
    return parser
