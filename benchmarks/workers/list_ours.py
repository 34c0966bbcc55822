"""Scenario 3, ours: list/compare over a workspace built by ``setup``
(argv: setup|query HOME N STEPS [CURVE_RUNS, default 100]).

setup writes N run journals in the real on-disk format and folds them into the catalog (not
timed: it stands for runs logged over weeks); query times what a user waits for.
"""

import sys
import time
from pathlib import Path

from _common import emit, setup_or_query

from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query

KEYS = ["loss", "acc", "val_acc"]


def setup(home: Path, n_runs: int, steps: int) -> None:
    import numpy as np

    from jupyter_dlbench.tracking.ingest import ingest
    from jupyter_dlbench.tracking.journal import JournalWriter, encode_event, encode_metrics

    runs = home / "runs"
    runs.mkdir(parents=True)
    now = time.time()
    idx = np.tile(np.arange(3, dtype=np.int32), steps)
    step_arr = np.repeat(np.arange(steps, dtype=np.int64), 3)
    ts = np.repeat(now + np.arange(steps, dtype=np.float64), 3)
    for i in range(n_runs):
        run_id = f"bench-{i:06d}"
        d = runs / run_id
        d.mkdir()
        w = JournalWriter(d / "journal.dlj")
        vals = np.random.default_rng(i).random(steps * 3)
        w.append([
            encode_event({"t": "start", "run_id": run_id, "project": f"p{i % 10}", "name": run_id,
                          "ts": now, "hostname": "bench", "pid": 0}),
            encode_event({"t": "params", "ts": now, "params": {
                f"p{k}": [float(i * k) if k % 2 else f"v{i % 7}", "explicit"] for k in range(10)}}),
            encode_metrics(KEYS, idx, step_arr, vals, ts),
            encode_event({"t": "end", "status": "finished", "ts": now + steps}),
        ])
        w.close()
    ws = Workspace.find_at(home)
    with ws.catalog.session(write=True) as s:
        ingest(ws, s)


def timed_queries(home: Path, n_runs: int, curve_runs: int = 100) -> None:
    ws = Workspace.find_at(home)
    ids = [f"bench-{i:06d}" for i in range(0, n_runs, max(1, n_runs // curve_runs))][:curve_runs]
    times = []
    for _ in range(6):  # the first is a fresh process (CLI); the rest a warm one (the server)
        t0 = time.perf_counter()
        with query.catalog(ws) as s:
            frame = query.runs_frame(s)
        times.append(time.perf_counter() - t0)
        assert len(frame) == n_runs and "metrics.loss" in frame.columns
    t0 = time.perf_counter()
    with query.catalog(ws) as s:
        points = sum(len(query.metric_history(s, r, "loss")) for r in ids[:20])
    history_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with query.catalog(ws) as s:
        curves = query.metric_curves(s, ids, "loss", max_points=2000)
    curves_s = time.perf_counter() - t0
    assert points > 0 and len(curves) > 0
    emit(list_cold_s=times[0], list_s=sorted(times[1:])[2], history20_s=history_s, curves100_s=curves_s)


if __name__ == "__main__":
    mode, home, n, steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    setup_or_query(mode, lambda: setup(home, n, steps),
                   lambda: timed_queries(home, n, *map(int, sys.argv[5:6])))
