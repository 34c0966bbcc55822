"""Scenario 1, mlflow: log_metric per step, or log_batch in batches of 1,000 (argv[2] = 'batch').

Backend per argv[3]: 'sqlite' (the tracking server's usual store) or 'file' (./mlruns, where the
installed mlflow still allows it). A ./mlflow.db already there is used as it is: the caller
copies in an empty one made by ``setup`` (argv: setup), which spares each round mlflow's schema
migrations (untimed, as a user's store exists before their run).
"""

import os
import sys
import time

import mlflow
from _common import emit
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

if sys.argv[1] == "setup":
    mlflow.set_tracking_uri(f"sqlite:///{os.getcwd()}/mlflow.db")
    MlflowClient().search_experiments()  # creates the tables
    emit()
    raise SystemExit(0)
steps, mode, backend = int(sys.argv[1]), sys.argv[2], sys.argv[3]
uri = f"sqlite:///{os.getcwd()}/mlflow.db" if backend == "sqlite" else f"file://{os.getcwd()}/mlruns"
mlflow.set_tracking_uri(uri)
client = MlflowClient()
exp = client.create_experiment("bench")
run = client.create_run(exp)
rid = run.info.run_id
t0 = time.perf_counter()
if mode == "batch":
    buf = []
    ts = int(time.time() * 1000)
    for step in range(steps):
        buf += [Metric("loss", 1.0 / (step + 1), ts, step), Metric("acc", step * 1e-6, ts, step),
                Metric("lr", 0.001, ts, step)]
        if len(buf) >= 999:
            client.log_batch(rid, metrics=buf)
            buf = []
    if buf:
        client.log_batch(rid, metrics=buf)
else:
    for step in range(steps):
        client.log_metric(rid, "loss", 1.0 / (step + 1), step=step)
        client.log_metric(rid, "acc", step * 1e-6, step=step)
        client.log_metric(rid, "lr", 0.001, step=step)
client.set_terminated(rid)
emit(seconds=time.perf_counter() - t0, points=steps * 3)
