"""Filling a catalog with many synthetic runs in bulk (seconds, not minutes), for the compare
widget's tests and its benchmark (benchmarks/workers/compare_open.py)."""

from __future__ import annotations

import time


def fill(ws, runs: int = 1000, steps: int = 1000) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pyarrow as pa

    from jupyter_dlbench.tracking.ingest import refresh_run_summary

    now = time.time()
    ids = [f"bench-{i:05d}" for i in range(runs)]
    with ws.catalog.session(write=True) as s:
        s.insert_arrow("run_rows", pa.table({
            "run_id": ids, "project": ["bench"] * runs, "name": [f"run {i}" for i in range(runs)],
            "status": ["finished"] * runs, "started_at": [now - 3600 + i for i in range(runs)],
            "ended_at": [now - 3000 + i for i in range(runs)], "closed": [True] * runs}),
            ["run_id", "project", "name", "status", "started_at", "ended_at", "closed"])
        rng = np.random.default_rng(0)
        lrs = 10 ** rng.uniform(-4, -1, runs)
        rows = [(r, "lr", str(v), float(v), "float", "explicit") for r, v in zip(ids, lrs, strict=True)]
        rows += [(r, "batch", str(b), float(b), "int", "explicit") for r, b in zip(ids, rng.choice([32, 64, 128], runs), strict=True)]
        cols = ["run_id", "key", "value", "value_num", "value_type", "source"]
        s.insert_arrow("param_rows", pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)}), cols)
        step = np.tile(np.arange(steps), runs)
        run_col = np.repeat(np.array(ids), steps)
        for key in ("loss", "acc"):
            value = np.exp(-step / 300) + rng.normal(0, 0.01, len(step))
            if key == "acc":
                value = 1 - value
            s.insert_arrow("metric_rows", pa.table({
                "run_id": run_col, "key": [key] * len(step), "step": step,
                "value": value, "ts": now - 3600 + step * 0.1}), ["run_id", "key", "step", "value", "ts"])
        s.execute("INSERT INTO metric_summary SELECT run_id, key, max(step), arg_max(value, step), "
                  "min(value), max(value), count(*), max(ts) FROM metric_rows GROUP BY run_id, key")
        refresh_run_summary(s)  # what the runs table reads, as ingest keeps it
