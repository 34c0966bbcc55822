"""Helpers for the fault-injection tests: a fillable disk and fresh-interpreter scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


class SmallDisk:
    """A tmpfs of a few MiB: ``fill()`` takes every free byte, ``free()`` gives them back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler.bin"

    def fill(self) -> None:
        block = b"\0" * 4096
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(block)
            except OSError:
                pass
        # the last page may be half used: take the remainder byte by byte
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0")
            except OSError:
                pass

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def spawn_script(code: str, *args: str, env: dict[str, str] | None = None,
                 **kwargs) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    """A fresh interpreter running ``code`` (never fork after duckdb is imported: DESIGN.md)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, **kwargs)
