"""Versioned catalog schema. Each entry upgrades the previous version; never edit a released one.

Base tables hold epoch seconds (``DOUBLE``); the documented views (``runs``, ``params``,
``metrics``, ``artifacts``) present them as UTC ``TIMESTAMP`` values. Views are recreated by
every migration that changes them, so users only ever query views.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (1, "001_initial.sql"),
    (2, "002_jobs.sql"),
    (3, "003_datasets.sql"),
    (4, "004_run_summary.sql"),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def migration_sql(filename: str) -> str:
    from importlib import resources  # imported on use: commands that never migrate skip its cost

    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
