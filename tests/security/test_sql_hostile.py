"""Hostile SQL through ``dlb.sql``, ``dlbench sql`` and the ``where=`` filter of ``dlb.runs``:
injection, file-reading functions, ATTACH/INSTALL/LOAD/COPY/PRAGMA/SET/CALL and stacked
statements are refused with a clear error, nothing outside the catalog is read, and the
catalog is intact afterwards. (Basic write refusal: tests/tracking/test_run_api.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import jupyter_dlbench as dlb
from jupyter_dlbench.errors import DlbenchError, InvalidInput, QueryError, ReadOnlyQuery
from jupyter_dlbench.tracking import query

SECRET = "TOP-SECRET-4471"

STATEMENTS = [
    ("select * from read_csv('{secret}')", QueryError, "disabled by configuration"),
    ("select content from read_text('{secret}')", QueryError, "disabled by configuration"),
    ("select * from read_blob('{secret}')", QueryError, "disabled by configuration"),
    ("select * from '{secret}'", QueryError, "disabled by configuration"),
    ("select * from glob('{home}/*')", QueryError, "disabled by configuration"),
    ("select * from sniff_csv('{secret}')", QueryError, "disabled by configuration"),
    ("attach '{home}/other.duckdb' as other", ReadOnlyQuery, "only SELECT"),
    ("detach catalog", ReadOnlyQuery, "only SELECT"),
    ("install httpfs", ReadOnlyQuery, "only SELECT"),
    ("load httpfs", ReadOnlyQuery, "only SELECT"),
    ("copy runs to '{home}/leak.csv'", ReadOnlyQuery, "only SELECT"),
    ("export database '{home}/leak'", ReadOnlyQuery, "only SELECT"),
    ("pragma database_list", ReadOnlyQuery, "only SELECT"),
    ("set enable_external_access = true", ReadOnlyQuery, "only SELECT"),
    ("reset enable_external_access", ReadOnlyQuery, "only SELECT"),
    ("call checkpoint()", ReadOnlyQuery, "only SELECT"),
    ("checkpoint", ReadOnlyQuery, "only SELECT"),
    ("create secret (type s3, key_id 'x', secret 'y')", ReadOnlyQuery, "only SELECT"),
    ("use memory", ReadOnlyQuery, "only SELECT"),
    ("select 1; drop table run_rows", QueryError, "exactly one"),
    ("select 1; set enable_external_access = true; select * from read_text('{secret}')",
     QueryError, "exactly one"),
    ("select * from query('drop table run_rows')", QueryError, "single SELECT"),
    ("select getenv('HOME')", QueryError, "does not exist"),
]

WHERES = [
    ("1=1; DROP TABLE run_rows", InvalidInput, "one SQL expression"),
    ("') OR 1=1 --", QueryError, "cannot filter runs"),
    ("1=1 --", QueryError, "cannot filter runs"),
    ("1=1) UNION ALL SELECT * FROM run_rows --", QueryError, "cannot filter runs"),
    ("(select count(*) from read_csv('{secret}')) > 0", QueryError, "disabled by configuration"),
    ("length((select content from read_text('{secret}'))) > 0", QueryError, "disabled by configuration"),
    ("exists(select * from query('drop table run_rows'))", QueryError, "single SELECT"),
    ("params.lr = ?", QueryError, "cannot filter runs"),
    ("x'00'", QueryError, "cannot filter runs"),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One workspace for the module: every test also checks it is still intact afterwards."""
    root = tmp_path_factory.mktemp("sql")
    home = root / "ws" / ".dlbench"
    secret = root / "secret.csv"
    secret.write_text(f"{SECRET},1\n{SECRET},2\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLBENCH_HOME", str(home))
        mp.setenv("DLBENCH_AUTO_REPORT", "0")
        mp.setenv("DLBENCH_CAPTURE_PACKAGES", "0")
        mp.chdir(root)
        for lr in (0.1, 0.01):
            with dlb.init(project="sec", params={"lr": lr}) as run:
                run.log({"acc": 1 - lr}, step=0)
        yield {"secret": str(secret), "home": str(home)}


def _catalog_intact() -> None:
    assert len(dlb.runs(project="sec")) == 2
    assert dlb.sql("select count(*) as n from metrics")["n"][0] >= 2
    assert not dlb.sql("select current_setting('enable_external_access') as on")["on"][0]


@pytest.mark.parametrize(("statement", "error", "message"), STATEMENTS)
def test_dlb_sql_refuses_hostile_statements_and_reads_nothing_outside(
        seeded: dict[str, str], statement: str, error: type[DlbenchError], message: str) -> None:
    with pytest.raises(error, match=message) as err:
        dlb.sql(statement.format(**seeded))
    assert SECRET not in err.value.message
    _catalog_intact()
    assert not (Path(seeded["home"]) / "leak.csv").exists()
    assert not (Path(seeded["home"]) / "other.duckdb").exists()


@pytest.mark.parametrize(("where", "error", "message"), WHERES)
def test_runs_where_filter_refuses_injection(seeded: dict[str, str], where: str,
                                             error: type[DlbenchError], message: str) -> None:
    with pytest.raises(error, match=message) as err:
        dlb.runs(where=where.format(**seeded))
    assert SECRET not in err.value.message
    _catalog_intact()


def test_filters_that_only_read_the_catalog_still_work(seeded: dict[str, str]) -> None:
    assert len(dlb.runs(where="1=1) OR (1=1")) == 2, "parentheses cannot escape the filter"
    assert len(dlb.runs(where="params.lr < 0.05 and metrics.acc > 0.9")) == 1
    assert len(dlb.runs(where="run_id in (select run_id from run_rows)")) == 2


def test_cli_sql_refuses_with_one_line_and_no_traceback(seeded: dict[str, str]) -> None:
    for statement in ("attach '{home}/x.duckdb' as x", "select content from read_text('{secret}')",
                      "select 1; drop table run_rows"):
        done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "sql",
                               statement.format(**seeded)],
                              capture_output=True, text=True, env=os.environ.copy(), timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("dlbench: error: ") and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr and SECRET not in done.stderr + done.stdout
    _catalog_intact()


TOKENS = ["params.lr", "metrics.acc", "run_id", "status", "=", "<", ">=", "'", '"', "(", ")", ";",
          "--", "/*", "*/", "OR", "AND", "NOT", "1", "0.1", "NULL", "'x'", "\\", "\x00", "ü", "::",
          "[", "]", "{", "}", "$1", "?", "*", ",", "SELECT", "FROM", "UNION", "DROP TABLE run_rows",
          "read_csv('/etc/passwd')", "read_text('/etc/hostname')", "ATTACH", "COPY", "PRAGMA",
          "query('select 1')", "\n", "𝔘", "\ud800"]

FILTERS = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join),
    st.text(max_size=60),
)


@pytest.mark.slow
def test_fuzzed_filters_give_a_frame_or_our_error_never_a_crash(seeded: dict[str, str]) -> None:
    with query.catalog() as session:

        @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
        @given(where=FILTERS)
        def check(where: str) -> None:
            try:
                frame = query.runs_frame(session, where=where)
            except DlbenchError as e:
                assert e.message and "Traceback" not in e.message
                assert "root:" not in e.message, "file contents leaked into an error"
                return
            assert set(frame["run_id"]) <= set(dlb_ids)

        dlb_ids = [r[0] for r in session.execute("select run_id from run_rows")]
        check()
    _catalog_intact()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(statement=FILTERS)
@example(statement="select '\ud800'")  # found by this test: a lone surrogate crashed the binding
@example(statement="\x00")
def test_fuzzed_sql_gives_a_frame_or_our_error(seeded: dict[str, str], statement: str) -> None:
    try:
        dlb.sql(statement)
    except DlbenchError as e:
        assert e.message and "root:" not in e.message
