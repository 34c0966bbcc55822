"""Scenario 3, aim: the same runs, listed with their hparams and last metric values through
aim's query API (argv: setup|query DIR N STEPS CURVE_RUNS).

What aim's SDK really returns: ``Repo.query_runs("")`` lists runs from aim's meta *index*, and
a run's ``run["hparams"]`` and ``run.collect_sequence_info("metric")`` (which holds each
metric's ``last``, ``last_step``, ``min`` and ``max``) read that index too. A run that was only
closed is not in the index until aim's index manager (``aim up``) indexes it: queried before
that, it is listed (from aim's SQLite run table) with no hparams (``run["hparams"]`` raises
KeyError) and no metrics. So setup indexes every run, as a long-lived aim repository is.

setup (not timed) creates the first CURVE_RUNS runs with aim's own ``Run``/``track`` and indexes
them with aim's index manager. Creating the rest the same way takes about 0.2-0.6 s per run
here (two RocksDB containers and several SQLite commits each), hours at 10,000 runs, so they
are written in bulk in the very layout the indexed real runs have: the first real run's index
entry with this run's hash, name, hparams and metric summaries, plus its row in aim's SQLite
run table. Those runs have no stored series: listing reads none (aim's runs table does not
either); the histories are read from the real runs: the full ``loss`` series of 20 runs, and
``loss`` downsampled by aim's own ``sample(2000)`` for all CURVE_RUNS real runs.

query checks what it timed: every run came back, the real runs' hparams, last values and
histories are exactly what was tracked, and every run has its 10 hparams and 3 metrics.
"""

import copy
import datetime
import os
import random
import sys
import time
import uuid

from _common import emit, setup_or_query

mode, d, n_runs, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.chdir(d)
from aim import Repo, Run  # noqa: E402
from aim.sdk.types import QueryReportMode  # noqa: E402
from aim.storage.context import Context  # noqa: E402

KEYS = ["loss", "acc", "val_acc"]
REAL = int(sys.argv[5])  # runs made through aim's SDK (Run, track); the rest copy their layout


def hparams(i: int) -> dict:
    return {f"p{k}": float(i * k) if k % 2 else f"v{i % 7}" for k in range(10)}


def series(i: int) -> dict[str, list[float]]:
    """Run i's values per metric, step by step (the same generator as the mlflow fixture)."""
    rng = random.Random(i)
    out: dict[str, list[float]] = {k: [] for k in KEYS}
    for _ in range(steps):
        for k in KEYS:
            out[k].append(rng.random())
    return out


def setup() -> None:
    from aim.sdk.index_manager import RepoIndexManager
    from aim.storage.structured.sql_engine.models import Run as RunRow

    real = []
    t0 = time.perf_counter()
    for i in range(min(REAL, n_runs)):
        run = Run(repo=d, experiment="bench", system_tracking_interval=None,
                  capture_terminal_logs=False, log_system_params=False)
        run.name = f"bench-{i:06d}"
        run["hparams"] = hparams(i)
        values = series(i)
        for s in range(steps):
            run.track({k: values[k][s] for k in KEYS}, step=s)
        real.append(run.hash)
        run.close()
    print(f"{len(real)} runs through aim's SDK in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    repo = Repo.from_path(d)
    indexer = RepoIndexManager.get_index_manager(repo)
    for h in real:
        indexer.index(h)
    index = repo._get_index_tree("meta", 0).view(())
    template = index.subtree(("meta", "chunks", real[0])).collect()
    session = repo.structured_db.get_session()
    experiment_id = session.query(RunRow).filter_by(hash=real[0]).one().experiment_id
    ctx = next(iter(template["traces"]))
    now = datetime.datetime.utcnow()
    rows: list = []
    for i in range(len(real), n_runs):
        h = uuid.uuid4().hex[:24]
        entry = copy.deepcopy(template)
        entry["attrs"]["hparams"] = hparams(i)
        for k, values in series(i).items():
            t = entry["traces"][ctx][k]
            t.update(first=values[0], first_step=0, last=values[-1], last_step=steps - 1,
                     min=min(values), max=max(values))
        index["meta", "chunks", h] = entry
        row = RunRow(h, created_at=now)
        row.name, row.experiment_id, row.finalized_at = f"bench-{i:06d}", experiment_id, now
        rows.append(row)
        if len(rows) == 1000:
            session.add_all(rows)
            session.commit()
            rows = []
    session.add_all(rows)
    session.commit()
    session.close()
    repo.close()


def list_runs(repo: Repo) -> list[dict]:
    """All runs with their name, hparams and each metric's last value, as a user listing them
    through aim's SDK gets them."""
    out = []
    for view in repo.query_runs("", report_mode=QueryReportMode.DISABLED).iter_runs():
        run = view.run
        metrics = run.collect_sequence_info("metric")["metric"]
        out.append({"hash": run.hash, "name": run.name, "hparams": run["hparams"],
                    "last": {m["name"]: m["values"]["last"] for m in metrics}})
    return out


def timed_queries() -> None:
    repo = Repo.from_path(d)
    times = []
    for _ in range(4):  # the first is a fresh process (CLI); the rest a warm one (the server)
        t0 = time.perf_counter()
        rows = list_runs(repo)
        times.append(time.perf_counter() - t0)
    assert len(rows) == n_runs, f"aim listed {len(rows)} of {n_runs} runs"
    by_name = {r["name"]: r for r in rows}
    # the SDK-made runs (exactly what was tracked) and a sample of the rest
    for i in sorted({*range(min(REAL, n_runs)), *range(0, n_runs, max(1, n_runs // 20))}):
        row = by_name[f"bench-{i:06d}"]
        assert row["hparams"] == hparams(i), row["hparams"]
        assert row["last"] == {k: v[-1] for k, v in series(i).items()}, row["last"]
    assert all(len(r["hparams"]) == 10 and set(r["last"]) == set(KEYS) for r in rows)
    real = [by_name[f"bench-{i:06d}"]["hash"] for i in range(min(REAL, n_runs))]
    t0 = time.perf_counter()
    # values_list() gives columns (value, epoch, time): the values are the first
    history = [repo.get_run(h).get_metric("loss", Context({})).data.values_list()[0]
               for h in real[:20]]
    history_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    curves = [repo.get_run(h).get_metric("loss", Context({})).data.sample(2000).values_list()[0]
              for h in real]
    curves_s = time.perf_counter() - t0
    for i, values in enumerate(history):
        assert values == series(i)["loss"], f"run {i}: history differs"
    assert all(0 < len(c) <= 2000 for c in curves), "aim returned an empty or oversized curve"
    emit(list_cold_s=times[0], list_s=sorted(times[1:])[1],  # 3 warm: aim takes seconds each
         history20_s=history_s, curves100_s=curves_s)


if __name__ == "__main__":
    setup_or_query(mode, setup, timed_queries)
