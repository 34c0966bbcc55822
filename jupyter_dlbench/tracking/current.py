"""The notebook's current run: the one process-wide global, kept here and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NoActiveRun

if TYPE_CHECKING:
    from .run import Run

_current: Run | None = None


def get_current() -> Run:
    if _current is None:
        raise NoActiveRun()
    return _current


def peek_current() -> Run | None:
    return _current


def set_current(run: Run) -> None:
    global _current
    _current = run


def clear_current(run: Run) -> None:
    global _current
    if _current is run:
        _current = None
