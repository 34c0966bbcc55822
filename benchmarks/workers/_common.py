"""Shared by every benchmark worker: one JSON line on stdout, peak memory included.

Workers run in a fresh interpreter each (ours in the project's venv, peers in
``benchmarks/.peers-venv``), so imports and caches of one contender never help another.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any


def emit(**figures: Any) -> None:
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()


def setup_or_query(mode: str, setup: Callable[[], None], queries: Callable[[], None]) -> None:
    """A listing worker's two modes: ``setup`` builds its fixture (timed as ``setup_s``, never
    counted); any other mode runs its timed queries, which emit their own figures."""
    if mode == "setup":
        t0 = time.perf_counter()
        setup()
        emit(setup_s=time.perf_counter() - t0)
    else:
        queries()
