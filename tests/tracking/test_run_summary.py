"""The runs table reads per-run summaries kept at ingest (``run_summary``): they must always say
what the raw params and metric rows say — after more logging, a redone ingest, a crash-recovered
run, a rebuild, and an upgrade of a workspace that predates them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

import jupyter_dlbench as dlb
from jupyter_dlbench.cli import main as cli
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query
from jupyter_dlbench.tracking.ingest import ingest

CRASHER = """
import time, jupyter_dlbench as dlb
run = dlb.init(project="s", params={"lr": 0.5, "opt": "sgd"})
for step in range(5):
    run.log({"x": float(step + 1)}, step=step)
run.flush()
print(run.id, flush=True)
time.sleep(600)
"""


def _from_raw_rows() -> dict[str, dict[str, Any]]:
    """Each run's expected listing values, computed from the documented raw views."""
    out: dict[str, dict[str, Any]] = {}
    for run_id, key, value, num in dlb.sql(
            "select run_id, key, value, value_num from params").itertuples(index=False):
        out.setdefault(run_id, {})[f"params.{key}"] = value if key == "opt" else num
    for run_id, key, last, lo, hi in dlb.sql(
            "select run_id, key, arg_max(value, step), min(value), max(value) from metrics "
            "where not starts_with(key, 'sys/') group by all").itertuples(index=False):
        out.setdefault(run_id, {}).update(
            {f"metrics.{key}": last, f"metrics.{key}.min": lo, f"metrics.{key}.max": hi})
    return out


def _assert_listing_matches_raw_rows() -> pd.DataFrame:
    frame = dlb.runs()
    expected = _from_raw_rows()
    extra = [c for c in frame.columns if c.startswith(("params.", "metrics."))]
    for row in frame.to_dict("records"):
        want = expected.get(row["run_id"], {})
        for column in extra:
            got = row[column]
            if column in want:
                assert got == want[column], f"{row['run_id']} {column}: listed {got!r}, rows say {want[column]!r}"
            else:
                assert got is None or pd.isna(got), f"{row['run_id']} {column}: listed {got!r}, never logged"
    return frame


def test_listing_matches_raw_rows_through_logging_reingest_crash_and_rebuild(workspace_dir: Path) -> None:
    with dlb.init(project="s", name="done", params={"lr": 0.1, "opt": "adam"}) as done:
        for step, loss in enumerate([3.0, 1.0, 2.0]):
            done.log({"loss": loss}, step=step)

    live = dlb.init(project="s", name="live", params={"lr": 0.01, "opt": "adam"})
    live.log({"acc": 0.5}, step=0)
    live.flush()
    frame = _assert_listing_matches_raw_rows().set_index("run_id")
    assert frame.loc[live.id, "metrics.acc"] == 0.5
    assert frame.loc[done.id, "metrics.loss"] == 2.0 and frame.loc[done.id, "metrics.loss.min"] == 1.0

    # more logging into the open run, including a metric it had not logged before
    for step, acc in ((1, 0.7), (2, 0.6)):
        live.log({"acc": acc, "loss": 9.0 - step}, step=step)
    live.flush()
    frame = _assert_listing_matches_raw_rows().set_index("run_id")
    assert (frame.loc[live.id, "metrics.acc"], frame.loc[live.id, "metrics.acc.max"]) == (0.6, 0.7)
    assert frame.loc[live.id, "metrics.loss"] == 7.0

    # an ingest redone over the same journals changes nothing
    before = dlb.runs()
    ws = Workspace.find()
    with query.catalog(ws) as session:
        ingest(ws, session)
        ingest(ws, session, run_ids=[live.id, done.id])
    pd.testing.assert_frame_equal(dlb.runs(), before)

    # a run whose process is killed: its flushed points are listed, and it is crashed
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CRASHER)],
                            stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    crashed = proc.stdout.readline().strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    frame = _assert_listing_matches_raw_rows().set_index("run_id")
    assert frame.loc[crashed, "status"] == "crashed"
    assert frame.loc[crashed, "metrics.x"] == 5.0 and frame.loc[crashed, "params.opt"] == "sgd"
    assert dlb.runs(where="metrics.x >= 5 and params.lr > 0.1")["run_id"].tolist() == [crashed]

    # a rebuilt catalog lists exactly the same
    live.finish()
    before = dlb.runs()
    assert cli(["doctor", "--rebuild"]) == 0
    pd.testing.assert_frame_equal(_assert_listing_matches_raw_rows(), before)


def test_a_workspace_from_before_the_summaries_lists_its_runs_after_upgrade(workspace_dir: Path) -> None:
    """Migration 004 fills the summaries from the rows an older release wrote."""
    import duckdb

    from jupyter_dlbench.store.migrations import migration_sql

    workspace_dir.mkdir(parents=True)
    con = duckdb.connect(str(workspace_dir / "catalog.duckdb"))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    for number, name in ((1, "001_initial.sql"), (2, "002_jobs.sql"), (3, "003_datasets.sql")):
        con.execute(migration_sql(name))
        con.execute("INSERT INTO schema_version VALUES (?, now())", [number])
    con.execute("INSERT INTO run_rows (run_id, project, name, status, closed) "
                "VALUES ('old-run', 'legacy', 'kept', 'finished', true)")
    con.execute("INSERT INTO param_rows VALUES ('old-run', 'lr', '0.001', 0.001, 'float', 'explicit'), "
                "('old-run', 'opt', 'adam', NULL, 'str', 'explicit')")
    con.execute("INSERT INTO metric_summary VALUES ('old-run', 'loss', 9, 0.25, 0.2, 1.5, 10, 0)")
    con.close()
    row = dlb.runs().iloc[0]
    assert (row["params.lr"], row["params.opt"]) == (0.001, "adam")
    assert (row["metrics.loss"], row["metrics.loss.min"], row["metrics.loss.max"]) == (0.25, 0.2, 1.5)
