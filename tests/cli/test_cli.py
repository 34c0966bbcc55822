"""The `dlbench` command as a terminal user meets it: real processes, real output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jupyter_dlbench as dlb


def dlbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", *args],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)


def _two_runs() -> tuple[str, str]:
    with dlb.init(project="digits", name="baseline", params={"lr": 0.01}) as a:
        a.log({"loss": 0.5}, step=0)
        a.log({"loss": 0.25}, step=1)
    with dlb.init(project="other", name="[bold]x</b>", params={"lr": 0.1}) as b:
        b.log({"loss": 0.9})
    return a.id, b.id


def test_runs_ls_json_lists_runs_with_params_and_last_metrics(workspace_dir: Path) -> None:
    a, b = _two_runs()
    done = dlbench("runs", "ls", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["run_id"]: r for r in json.loads(done.stdout)}
    assert set(rows) == {a, b}
    assert rows[a]["params.lr"] == 0.01 and rows[a]["metrics.loss"] == 0.25
    only = json.loads(dlbench("runs", "ls", "--project", "digits", "--json").stdout)
    assert [r["run_id"] for r in only] == [a]


def test_runs_ls_table_shows_user_strings_verbatim(workspace_dir: Path) -> None:
    _two_runs()
    done = dlbench("runs", "ls")
    assert done.returncode == 0, done.stderr
    assert "[bold]x</b>" in done.stdout  # not interpreted as rich markup
    assert "baseline" in done.stdout and "2 runs" in done.stdout


def test_runs_show_prints_params_metrics_and_environment(workspace_dir: Path) -> None:
    a, _ = _two_runs()
    done = dlbench("runs", "show", a[:-1])
    assert done.returncode == 0, done.stderr
    for text in ("baseline", "lr", "0.01", "loss", "0.25", "python", "finished"):
        assert text in done.stdout
    data = json.loads(dlbench("runs", "show", a, "--json").stdout)
    assert data["params"] == {"lr": 0.01}
    assert data["metrics"]["loss"]["last"] == 0.25 and data["metrics"]["loss"]["count"] == 2


def test_unknown_run_is_a_one_line_error_without_traceback(workspace_dir: Path) -> None:
    _two_runs()
    done = dlbench("runs", "show", "nosuchrun")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "dlbench: error: no run matches 'nosuchrun'; `dlbench runs ls` lists the runs")


def test_sql_answers_selects_and_refuses_writes(workspace_dir: Path) -> None:
    _two_runs()
    done = dlbench("sql", "select project, count(*) as n from runs group by project order by project", "--json")
    assert json.loads(done.stdout) == [{"project": "digits", "n": 1}, {"project": "other", "n": 1}]
    refused = dlbench("sql", "delete from runs")
    assert refused.returncode == 2 and "only SELECT queries are allowed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(dlb.runs()) == 2


def test_doctor_reports_ok_and_rebuild_restores_the_same_catalog(workspace_dir: Path) -> None:
    _two_runs()
    before = dlb.sql("select (select count(*) from runs) r, (select count(*) from params) p, "
                     "(select count(*) from metrics) m")
    done = dlbench("doctor")
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout
    (workspace_dir / "catalog.duckdb").unlink()
    rebuilt = dlbench("doctor", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "2 runs" in rebuilt.stdout
    after = dlb.sql("select (select count(*) from runs) r, (select count(*) from params) p, "
                    "(select count(*) from metrics) m")
    assert before.equals(after)


def test_doctor_finds_a_missing_and_a_corrupted_object(workspace_dir: Path, tmp_path: Path) -> None:
    art = tmp_path / "a.bin"
    art.write_bytes(b"abc" * 100)
    with dlb.init() as run:
        run.log_artifact(art)
    oid = dlb.run_info(run.id)["artifacts"][0]["oid"]
    from jupyter_dlbench.store import Workspace

    path = Workspace.find().objects.path(oid)
    path.chmod(0o644)
    path.write_bytes(b"abd" * 100)
    done = dlbench("doctor", "--verify")
    assert done.returncode == 1
    assert "corrupted" in done.stdout and oid in done.stdout
    path.unlink()
    done = dlbench("doctor")
    assert done.returncode == 1 and "missing" in done.stdout
