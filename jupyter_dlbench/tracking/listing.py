"""The runs table for long-lived readers (the Jupyter server), refreshed only when it can differ.

Every catalog read first ingests journals under the exclusive catalog lock, and the pivot of
params and metrics over all runs costs a few hundred milliseconds at 10,000 runs. A sidebar
asking every few seconds would keep the catalog locked and the CPU busy for nothing, because
nothing changed. So :class:`RunListing` keeps the last table in memory and decides from a few
``stat`` calls whether it can be stale:

- the runs folder's mtime changes when a run folder is added or removed;
- an open run's journal grows with every flush and every heartbeat (5 s);
- the catalog file changes when another process ingested or rebuilt it.

While runs are open the table is also refreshed every ``open_max_age`` seconds, because a run
whose process died writes nothing more: only an ingest notices it and marks it crashed.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from ..errors import InvalidInput
from ..store import Workspace
from . import query

BASE_SORT_KEYS = ("started_at", "ended_at", "duration_s", "name", "status", "project", "run_id")


class RunListing:
    """The full runs table (all projects, system metrics left out) of one workspace, cached."""

    def __init__(self, ws: Workspace, open_max_age: float = 3.0) -> None:
        self.ws = ws
        self.open_max_age = open_max_age
        self._lock = threading.Lock()
        self._frame: Any = None
        self._signature: tuple[Any, ...] | None = None
        self._open: list[str] = []
        self._loaded_at = 0.0
        self.refreshes = 0  # how many times the catalog was read, for tests and benchmarks
        # why the last table lacks the newest journal records (a full disk), or None
        self.stale: str | None = None

    def frame(self) -> Any:
        """The runs DataFrame as :func:`query.runs_frame` gives it, newest first."""
        with self._lock:
            signature = self._stat()
            fresh = (
                self._frame is not None
                and signature == self._signature
                and not (self._open and time.monotonic() - self._loaded_at > self.open_max_age)
            )
            if not fresh:
                with query.catalog(self.ws, stale_ok=True) as session:
                    self._frame = query.runs_frame(session)
                    self._open = [r[0] for r in session.execute(
                        "SELECT run_id FROM run_rows WHERE NOT closed ORDER BY run_id")]
                    self.stale = session.stale
                # journals as seen before the ingest (a write since then shows next time),
                # the catalog file as our own write left it; a stale table is never reused
                self._signature = None if self.stale else signature[:2] + (self._catalog_stat(),)
                self._loaded_at = time.monotonic()
                self.refreshes += 1
            return self._frame

    def _stat(self) -> tuple[Any, ...]:
        try:
            runs = os.stat(self.ws.runs_dir).st_mtime_ns
        except FileNotFoundError:
            runs = None
        journals = []
        for run_id in self._open:
            try:
                st = os.stat(self.ws.run_dir(run_id) / "journal.dlj")
                journals.append((run_id, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                journals.append((run_id, None, None))
        return (runs, tuple(journals), self._catalog_stat())

    def _catalog_stat(self) -> tuple[Any, ...]:
        out = []
        for path in (self.ws.catalog.path, self.ws.catalog.path.with_name(
                self.ws.catalog.path.name + ".wal")):
            try:
                st = os.stat(path)
                out.append((st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)


def select_runs(frame: Any, project: str | None = None, statuses: list[str] | None = None,
                text: str | None = None, sort: str | None = None) -> Any:
    """Filter and order a runs frame in memory.

    ``text`` matches the name or the id, case-insensitively. ``sort`` is a column with an
    optional leading ``-`` for descending; runs without a value come last either way, and
    ties keep the frame's order (newest first).
    """
    if project is not None:
        frame = frame[frame["project"] == project]
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    if text:
        needle = text.lower()
        frame = frame[
            frame["name"].fillna("").str.lower().str.contains(needle, regex=False)
            | frame["run_id"].str.lower().str.contains(needle, regex=False)
        ]
    if sort:
        descending = sort.startswith("-")
        column = sort[1:] if descending else sort
        if column not in sortable_columns(frame):
            known = ", ".join(BASE_SORT_KEYS)
            raise InvalidInput(
                f"cannot sort by {column!r}: sort by {known}, params.<key> or metrics.<key> "
                "(.min, .max) of a logged param or metric, with '-' in front for descending"
            )
        frame = frame.sort_values(column, ascending=not descending, na_position="last",
                                  kind="stable")
    return frame


def sortable_columns(frame: Any) -> set[str]:
    return set(BASE_SORT_KEYS) | {c for c in frame.columns if c.startswith(("params.", "metrics."))}
