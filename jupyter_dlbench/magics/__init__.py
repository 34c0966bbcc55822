"""The ``%dlbench`` IPython magic: ``%load_ext jupyter_dlbench``, then ``%dlbench --help``.

``%dlbench sweep lr=1e-3,1e-4 batch_size=32,64`` runs this notebook over the grid with a live
progress widget; ``%dlbench run``, ``%dlbench runs``, ``%dlbench sql SELECT …`` (or a
``%%dlbench sql`` cell), ``%dlbench data …`` and ``%dlbench compare …`` mirror the ``dlbench``
command. A user mistake prints one line (``%dlbench sweep: error: …``) and the cell goes on;
it never raises ``SystemExit`` or shows a traceback. To load it in every kernel, add
``c.InteractiveShellApp.extensions = ["jupyter_dlbench"]`` to ``ipython_config.py``.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from ..errors import DlbenchError, InvalidInput
from . import commands
from .parsing import HelpShown, build_parser, split_line, unquote, unquote_options


def _leading_workspace(tokens: list[str]) -> tuple[str | None, list[str]]:
    """Peel ``--workspace DIR`` (or ``--workspace=DIR``) off the front of the tokens."""
    if tokens and tokens[0].startswith("--workspace="):
        return unquote(tokens[0].split("=", 1)[1]), tokens[1:]
    if len(tokens) >= 2 and tokens[0] == "--workspace":
        return unquote(tokens[1]), tokens[2:]
    return None, tokens


def _after_word(line: str, word: str) -> str:
    """The raw text after the first token ``word`` (quotes and spacing untouched)."""
    match = re.search(rf"(?<!\S){re.escape(word)}(?!\S)", line)
    return line[match.end():] if match else ""


@magics_class
class DlbenchMagics(Magics):
    """``%dlbench`` (line) and ``%%dlbench`` (cell)."""

    @line_cell_magic
    def dlbench(self, line: str, cell: str | None = None) -> Any:
        """jupyter-dlbench in a notebook; ``%dlbench --help`` lists the subcommands."""
        tokens = split_line(line)
        command = next((t for t in tokens if not t.startswith("-")), "")
        try:
            return self._dispatch(line, tokens, cell)
        except HelpShown:
            return None
        except DlbenchError as e:
            where = f"%dlbench {command}" if command in _COMMANDS else "%dlbench"
            print(f"{where}: error: {e.message}", file=sys.stderr)
            return None

    def _dispatch(self, line: str, tokens: list[str], cell: str | None) -> Any:
        parser = build_parser()
        if not tokens and not (cell or "").strip():
            parser.print_help()
            return None
        workspace_dir, rest = _leading_workspace(tokens)
        command = rest[0] if rest else ""
        if command == "sql":
            if rest[1:2] in (["-h"], ["--help"]):
                parser.parse_args(["sql", "--help"])
            return commands.cmd_sql(_after_word(line, "sql") + "\n" + (cell or ""), workspace_dir)
        if command == "data":  # `%dlbench data --help` shows the CLI's own help
            args = [unquote(t) for t in rest[1:] + (split_line(cell) if cell else [])]
            return commands.cmd_cli("data", args, workspace_dir)
        if cell:
            # `%%dlbench sweep --wait` with one spec token per line of the cell
            rest = rest + split_line(cell)
        sub = parser.commands.get(command)
        if sub is None:  # `-h`, a missing or unknown command: argparse says which
            parser.parse_args(rest)
            raise InvalidInput(f"unknown command {command!r} (see `%dlbench --help`)")
        args, extra = sub.parse_known_intermixed_args(rest[1:])
        if extra:
            raise InvalidInput(f"unrecognized arguments: {' '.join(extra)} "
                               f"(see `%dlbench {command} --help`)")
        args.command, args.workspace = command, workspace_dir
        args = unquote_options(args, keep=("spec",))
        if args.command == "sweep":
            return commands.cmd_sweep(args, self.shell.user_ns if self.shell else {})
        if args.command == "run":
            return commands.cmd_run(args, self.shell.user_ns if self.shell else {})
        if args.command == "compare":
            return commands.cmd_compare(args)
        return commands.cmd_runs(args)


_COMMANDS = ("sweep", "run", "runs", "sql", "data", "compare")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_dlbench``: register ``%dlbench`` and ``%%dlbench``."""
    ipython.register_magics(DlbenchMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_dlbench``: remove the magics again."""
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("dlbench", None)
