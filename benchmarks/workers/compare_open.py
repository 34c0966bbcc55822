"""Scenario: opening the comparison widget on 1,000 runs x 1,000 steps (target: under 1 s).

The catalog is filled directly in bulk so the set-up takes seconds; imports are warmed first,
as they are in a notebook after the first call. argv: RUNS STEPS.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo, for tests.widgets
from tests.widgets.bulk_runs import fill  # noqa: E402


def main() -> None:
    runs, steps = int(sys.argv[1]), int(sys.argv[2])
    os.environ["DLBENCH_HOME"] = tempfile.mkdtemp() + "/.dlbench"
    from jupyter_dlbench.store import Workspace
    from jupyter_dlbench.widgets.compare import compare

    ws = Workspace.find()
    fill(ws, runs, steps)
    compare(workspace=ws, objective="acc").close()  # warm imports
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        w = compare(workspace=ws, objective="acc")
        times.append(time.perf_counter() - t0)
        points = sum(len(x) for x in w.curve_source.data["xs"])
        w.close()
    emit(open_s=sorted(times)[1], runs=len(w.frame), curve_points=points)


if __name__ == "__main__":
    main()
