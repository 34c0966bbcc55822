"""The tracking API as a script user meets it: init, log, artifacts, finish, query."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.errors import (
    CatalogCorrupt,
    InvalidInput,
    NoActiveRun,
    QueryError,
    ReadOnlyQuery,
    RunNotFound,
    RunStateError,
)


def test_logged_run_is_listed_with_params_and_last_and_best_metrics(workspace_dir: Path) -> None:
    run = dlb.init(project="digits", name="baseline", params={"lr": 1e-3, "optimizer": "adam"})
    for step in range(100):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 100}, step=step)
    run.finish()
    frame = dlb.runs(project="digits")
    assert list(frame["run_id"]) == [run.id]
    row = frame.iloc[0]
    assert row["status"] == "finished"
    assert row["params.lr"] == pytest.approx(1e-3)
    assert row["params.optimizer"] == "adam"
    assert row["metrics.loss"] == pytest.approx(0.01)
    assert row["metrics.loss.min"] == pytest.approx(0.01)
    assert row["metrics.acc.max"] == pytest.approx(0.99)
    assert row["ended_at"] >= row["started_at"]


def test_where_filters_on_params_and_metrics(workspace_dir: Path) -> None:
    for lr in (0.1, 0.01, 0.001):
        with dlb.init(project="sweep", params={"lr": lr}) as run:
            run.log({"acc": 1 - lr})
    assert len(dlb.runs(project="sweep", where="params.lr < 0.05")) == 2
    assert len(dlb.runs(where="metrics.acc > 0.95 and params.lr > 0.005")) == 1
    with pytest.raises(QueryError, match="params.nope"):
        dlb.runs(where="params.nope > 1")


def test_sql_reads_documented_views_and_refuses_writes(workspace_dir: Path) -> None:
    with dlb.init(project="p", params={"batch": 32}) as run:
        run.log({"loss": 0.5}, step=0)
        run.log({"loss": 0.25}, step=1)
    frame = dlb.sql("select run_id, key, step, value from metrics order by step")
    assert list(frame["value"]) == [0.5, 0.25]
    assert dlb.sql("select value from params where key = 'batch'")["value"][0] == "32"
    assert dlb.sql("select status from runs")["status"][0] == "finished"
    for statement in ("delete from runs", "drop view metrics", "insert into params values (1)",
                      "copy runs to 'x.csv'"):
        with pytest.raises(ReadOnlyQuery, match="only SELECT"):
            dlb.sql(statement)
    with pytest.raises(QueryError, match="exactly one"):
        dlb.sql("select 1; select 2")
    with pytest.raises(QueryError, match="does not parse|failed"):
        dlb.sql("selec nonsense")
    assert dlb.sql("select count(*) as n from runs")["n"][0] == 1


def test_nan_and_inf_are_stored_and_shown_as_such(workspace_dir: Path) -> None:
    with dlb.init() as run:
        run.log({"loss": math.nan, "grad": math.inf, "neg": -math.inf})
    values = dict(dlb.sql("select key, value from metrics").values.tolist())
    assert math.isnan(values["loss"])
    assert values["grad"] == math.inf and values["neg"] == -math.inf
    info = dlb.run_info(run.id)
    assert math.isnan(info["metrics"]["loss"]["last"])


def test_unicode_and_spaces_in_metric_names_round_trip(workspace_dir: Path) -> None:
    with dlb.init() as run:
        run.log({"val loss ü/层": 1.5, "x" * 1000: 2.0})
    keys = set(dlb.sql("select key from metrics")["key"])
    assert keys == {"val loss ü/层", "x" * 1000}


@pytest.mark.parametrize(
    ("metrics", "step", "message"),
    [
        ({"loss": "high"}, None, "metric 'loss' must be a number"),
        ({"loss": [1, 2]}, None, "metric 'loss' must be a number"),
        ({"": 1.0}, None, "must not be empty"),
        ({"x" * 10_000: 1.0}, None, "10000 characters long"),
        ({"a\nb": 1.0}, None, "line break"),
        ({1: 1.0}, None, "must be strings"),
        ({"loss": 1.0}, 1.5, "step must be an integer"),
    ],
)
def test_bad_log_input_is_a_clear_error_and_loses_nothing(
    workspace_dir: Path, metrics: dict, step: object, message: str
) -> None:
    run = dlb.init()
    run.log({"good": 1.0}, step=0)
    with pytest.raises(InvalidInput, match=message):
        run.log(metrics, step=step)  # type: ignore[arg-type]
    run.log({"good": 2.0}, step=1)
    run.finish()
    assert list(dlb.metrics(run.id, "good")["value"]) == [1.0, 2.0]


def test_numpy_and_torch_scalars_are_accepted(workspace_dir: Path) -> None:
    np = pytest.importorskip("numpy")
    with dlb.init() as run:
        run.log({"a": np.float32(0.5), "b": np.int64(3), "c": True})
    values = dict(dlb.sql("select key, value from metrics").values.tolist())
    assert values == {"a": 0.5, "b": 3.0, "c": 1.0}


def test_context_manager_marks_failed_run_with_the_error(workspace_dir: Path) -> None:
    with pytest.raises(ZeroDivisionError), dlb.init(project="p") as run:
        run.log({"loss": 1.0})
        1 / 0  # noqa: B018
    info = dlb.run_info(run.id)
    assert info["status"] == "failed"
    assert "ZeroDivisionError" in info["error"]


def test_logging_after_finish_and_without_a_run_are_errors(workspace_dir: Path) -> None:
    run = dlb.init()
    run.finish()
    with pytest.raises(RunStateError, match="finished"):
        run.log({"x": 1.0})
    with pytest.raises(NoActiveRun, match="dlb.init"):
        dlb.log({"x": 1.0})


def test_artifacts_are_stored_as_objects(workspace_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(b"\x00weights" * 100)
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    with dlb.init() as run:
        run.log_artifact(model)
        run.log_artifact(folder)
        with pytest.raises(InvalidInput, match="does not exist"):
            run.log_artifact(tmp_path / "missing.bin")
    from jupyter_dlbench.store import Workspace

    artifacts = {a["path"]: a for a in dlb.run_info(run.id)["artifacts"]}
    assert set(artifacts) == {"model.pt", "plots/a.txt", "plots/sub/b.txt"}
    store = Workspace.find().objects
    assert store.read_bytes(artifacts["model.pt"]["oid"]) == model.read_bytes()


def test_script_run_records_code_environment_and_output(workspace_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import run_python

    script = tmp_path / "train.py"
    script.write_text(
        "import jupyter_dlbench as dlb\n"
        "run = dlb.init(project='scripts', params={'lr': 0.1})\n"
        "print('hello from training')\n"
        "run.log({'loss': 1.0})\n"
    )  # no finish(): the atexit hook finishes it
    import subprocess
    import sys

    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, env=os.environ.copy())
    frame = dlb.runs(project="scripts")
    info = dlb.run_info(frame["run_id"][0])
    assert info["status"] == "finished"
    assert info["name"] == "train"
    assert info["notebook_path"] == str(script)
    from jupyter_dlbench.store import Workspace

    assert Workspace.find().objects.read_bytes(info["snapshot_oid"]) == script.read_bytes()
    assert info["environment"]["python"].count(".") == 2
    assert "numpy" in info["environment"]["packages"]
    assert info["hardware"]["cpu_count"] >= 1 and info["hardware"]["memory_bytes"] > 0
    assert "hello from training" in info["output_tail"]
    assert run_python  # imported helper stays in use for other tests


def test_uncaught_exception_in_script_marks_run_failed(workspace_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "boom.py"
    script.write_text("import jupyter_dlbench as dlb\nrun = dlb.init()\nraise ValueError('bad batch')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and "bad batch" in done.stderr
    info = dlb.run_info(dlb.runs()["run_id"][0])
    assert info["status"] == "failed"
    assert "ValueError: bad batch" in info["error"]


def test_system_metrics_are_sampled(workspace_dir: Path) -> None:
    import time

    with dlb.init() as run:
        time.sleep(1.4)
    keys = set(dlb.sql(f"select key from metrics where run_id = '{run.id}'")["key"])
    assert {"sys/cpu_percent", "sys/memory_percent", "sys/process_rss_mb"} <= keys
    assert "metrics.sys/cpu_percent" not in dlb.runs().columns


def test_unknown_and_ambiguous_run_ids(workspace_dir: Path) -> None:
    a = dlb.init()
    a.finish()
    with pytest.raises(RunNotFound, match="no run matches 'nope'"):
        dlb.run_info("nope")
    with pytest.raises(RunNotFound):
        dlb.run_info("../../etc/passwd")
    assert dlb.run_info(a.id[:-2])["run_id"] == a.id


READ_ONLY_USER = """
import jupyter_dlbench as dlb
from jupyter_dlbench.errors import WorkspaceNotWritable
print(sorted(dlb.runs()["run_id"]))
try:
    dlb.init()
except WorkspaceNotWritable as e:
    print("refused:", e)
"""


def _as_unprivileged() -> list[str]:
    """Root ignores file modes; without CAP_DAC_OVERRIDE it obeys them like any user."""
    if os.geteuid() != 0:
        return []
    import shutil

    if not shutil.which("setpriv"):
        pytest.skip("running as root and setpriv (util-linux) is missing: cannot drop CAP_DAC_OVERRIDE")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_read_only_workspace_can_be_read_but_not_written(workspace_dir: Path) -> None:
    import subprocess
    import sys
    import textwrap

    with dlb.init() as run:
        run.log({"x": 1.0})
    dlb.runs()
    paths = [workspace_dir, *workspace_dir.rglob("*")]
    for p in paths:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        done = subprocess.run([*_as_unprivileged(), sys.executable, "-c", textwrap.dedent(READ_ONLY_USER)],
                              capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    finally:
        for p in paths:
            p.chmod(p.stat().st_mode | 0o200)
    assert done.returncode == 0, done.stderr
    assert f"['{run.id}']" in done.stdout
    assert "refused: the workspace" in done.stdout and "is read-only" in done.stdout


def test_workspace_that_cannot_be_written_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DLBENCH_HOME", str(blocker))
    from jupyter_dlbench.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="not a folder"):
        dlb.init()


def test_corrupted_catalog_is_reported_and_rebuilt_from_journals(workspace_dir: Path) -> None:
    with dlb.init(params={"lr": 0.5}) as run:
        run.log({"loss": 1.0})
    dlb.runs()
    catalog = workspace_dir / "catalog.duckdb"
    catalog.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogCorrupt, match="doctor --rebuild"):
        dlb.runs()
    from jupyter_dlbench.cli import main

    assert main(["doctor", "--rebuild"]) == 0
    frame = dlb.runs()
    assert list(frame["run_id"]) == [run.id]
    assert frame["params.lr"][0] == 0.5
    assert list(workspace_dir.glob("catalog.duckdb.old-*")), "the broken file is kept, not destroyed"


def test_user_sql_cannot_read_files_outside_the_catalog(workspace_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    with dlb.init() as run:
        run.log({"x": 1.0})
    for attempt in (
        lambda: dlb.sql(f"select content from read_text('{secret}')"),
        lambda: dlb.runs(where=f"cast((select content from read_text('{secret}')) as int) > 0"),
    ):
        with pytest.raises(QueryError) as err:
            attempt()
        assert "TOP-SECRET" not in str(err.value)
    assert len(dlb.runs(where="metrics.x = 1")) == 1, "filters still work after the lock-down"


def test_a_workspace_from_schema_version_1_is_upgraded_in_place(workspace_dir: Path) -> None:
    """An old workspace opens with a newer release: migrations run once, data is kept."""
    import duckdb

    from jupyter_dlbench.store.migrations import migration_sql

    workspace_dir.mkdir(parents=True)
    con = duckdb.connect(str(workspace_dir / "catalog.duckdb"))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    con.execute(migration_sql("001_initial.sql"))
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute("INSERT INTO run_rows (run_id, project, name, status, closed) "
                "VALUES ('old-run', 'legacy', 'kept', 'finished', true)")
    con.close()
    frame = dlb.sql("select run_id, project, job_id, queue_wait_s from runs")
    assert list(frame["run_id"]) == ["old-run"] and frame["project"][0] == "legacy"
    assert frame["job_id"].isna().all(), "the new column exists and is empty for old rows"
    assert dlb.sql("select max(version) as v from schema_version")["v"][0] >= 2
