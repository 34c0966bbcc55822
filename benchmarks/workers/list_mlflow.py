"""Scenario 3, mlflow (sqlite backend): the same runs, listed with search_runs, histories with
get_metric_history (argv: setup|query DIR N STEPS [CURVE_RUNS, default 100]).

setup creates the schema through mlflow itself, then bulk-inserts rows in mlflow's own table
layout (runs, params, metrics, latest_metrics) with sqlite3: going through the client API
would take hours at 15 million points, and it is not what is being timed.
"""

import os
import sqlite3
import sys
import time
import uuid

from _common import emit, setup_or_query

mode, d, n_runs, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
curve_runs = int(sys.argv[5]) if len(sys.argv) > 5 else 100
os.chdir(d)
import mlflow  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

mlflow.set_tracking_uri(f"sqlite:///{d}/mlflow.db")
client = MlflowClient()
KEYS = ["loss", "acc", "val_acc"]


def setup() -> None:
    import random

    exp = client.create_experiment("bench")
    con = sqlite3.connect(f"{d}/mlflow.db")
    # a fixture, not what is timed: no fsync per commit (the file is complete when setup exits)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA journal_mode = MEMORY")
    con.execute("PRAGMA cache_size = -1000000")  # 1 GB: index pages stay in memory until commit
    now = int(time.time() * 1000)
    for i in range(n_runs):
        rid = f"{i:08x}{uuid.uuid4().hex[8:]}"  # ascending: rows append to mlflow's indexes
        rng = random.Random(i)
        con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (rid, f"bench-{i:06d}", "LOCAL", "", "", "bench", "FINISHED", now, now + steps,
                     "", "active", f"{d}/mlruns/{exp}/{rid}/artifacts", int(exp), None))
        con.executemany("INSERT INTO params VALUES (?,?,?)",
                        [(f"p{k}", str(float(i * k)) if k % 2 else f"v{i % 7}", rid) for k in range(10)])
        rows = [(k, rng.random(), now + s, rid, s, 0) for s in range(steps) for k in KEYS]
        con.executemany("INSERT INTO metrics VALUES (?,?,?,?,?,?)", rows)
        con.executemany("INSERT INTO latest_metrics VALUES (?,?,?,?,?,?)",
                        [(k, v, t, s, nan, r) for (k, v, t, r, s, nan) in rows[-3:]])
    con.commit()
    con.execute("PRAGMA journal_mode = DELETE")  # back to mlflow's own mode for the queries
    con.close()


def timed_queries() -> None:
    exp = client.get_experiment_by_name("bench").experiment_id
    times = []
    for _ in range(4):  # the first is a fresh process (CLI); the rest (3: seconds each) a warm one
        t0 = time.perf_counter()
        runs, token = [], None
        while True:  # search_runs pages at most 50,000; loop like a user listing everything would
            page = client.search_runs([exp], max_results=50_000, page_token=token)
            runs += page
            token = page.token
            if not token:
                break
        times.append(time.perf_counter() - t0)
    assert len(runs) == n_runs and runs[0].data.metrics and runs[0].data.params
    ids = sorted(r.info.run_id for r in runs)
    ids = ids[:: max(1, n_runs // curve_runs)][:curve_runs]
    t0 = time.perf_counter()
    points = sum(len(client.get_metric_history(r, "loss")) for r in ids[:20])
    history_s = time.perf_counter() - t0
    # mlflow has no server-side downsampling: the closest is the full history of each run
    t0 = time.perf_counter()
    curves = sum(len(client.get_metric_history(r, "loss")) for r in ids)
    curves_s = time.perf_counter() - t0
    assert points > 0 and curves > 0
    emit(list_cold_s=times[0], list_s=sorted(times[1:])[1], history20_s=history_s, curves100_s=curves_s)


if __name__ == "__main__":
    setup_or_query(mode, setup, timed_queries)
