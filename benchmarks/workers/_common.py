"""Shared by every benchmark worker: one JSON line on stdout, peak memory included.

Workers run in a fresh interpreter each (ours in the project's venv, peers in
``benchmarks/.peers-venv``), so imports and caches of one contender never help another.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def emit(**figures: Any) -> None:
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()
