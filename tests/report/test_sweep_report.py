"""Sweep reports over real runs: leaderboard, importance, charts, failed and pruned trials."""

from __future__ import annotations

import pytest

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.reports import report, report_for_runs, sweep_report
from tests.report.pages import XSS, Page, chart_sources, table_rows


@pytest.fixture
def sweep_runs(make_run) -> dict[str, str]:
    """Six runs where lr decides val_acc and the seed does not; plus one failed run."""
    runs = {}
    for lr, seed, acc in [(0.001, 0, 0.70), (0.001, 1, 0.71), (0.01, 0, 0.85), (0.01, 1, 0.84),
                          (0.1, 0, 0.95), (0.1, 1, 0.96)]:
        runs[f"{lr}/{seed}"] = make_run(f"lr{lr}", {"lr": lr, "seed": seed},
                                        {"val_acc": [acc / 2, acc], "loss": [1.0, 1 - acc]})
    runs["failed"] = make_run("diverged", {"lr": 10.0, "seed": 0}, {"loss": [float("nan")]},
                              error="RuntimeError: loss is NaN", status="failed")
    return runs


def test_leaderboard_ranks_by_objective_and_names_the_best_run(sweep_runs) -> None:
    text = report_for_runs(list(sweep_runs.values()), ("val_acc", "max"), title="lr sweep")
    page = Page(text)
    rows = table_rows(text)
    board = [r for r in rows if r and r[0].isdigit()]
    assert [r[-1] for r in board] == ["0.96", "0.95", "0.85", "0.84", "0.71", "0.7"]
    assert board[0][1].startswith(sweep_runs["0.1/1"])
    assert f"best run {sweep_runs['0.1/1']}" in " ".join(page.visible.split())
    # the best run's curves, the parallel coordinates and the scatter are charted
    sources = chart_sources(text)
    assert any(src.get("value") == [0.48, 0.96] for src in sources), "best run's val_acc curve"
    multi = next(src for src in sources if "xs" in src)
    assert len(multi["ys"]) == 6 and multi["run"][0] == sweep_runs["0.1/1"]
    assert multi["color"][0] == "#d62728" and multi["width"][0] == 4, "best run highlighted"


def test_parameter_importance_finds_the_param_that_matters_and_explains_the_measure(sweep_runs) -> None:
    text = report_for_runs(list(sweep_runs.values()), "val_acc")
    rows = {r[0]: r for r in table_rows(text) if r and r[0] in ("lr", "seed")}
    eta_lr, eta_seed = float(rows["lr"][1]), float(rows["seed"][1])
    assert eta_lr > 0.99 and eta_seed < 0.01
    assert float(rows["lr"][2]) > 0.9, "Spearman's rho gives the direction"
    assert "correlation ratio" in Page(text).visible


def test_failed_runs_are_listed_with_their_reason(sweep_runs) -> None:
    rows = table_rows(report_for_runs(list(sweep_runs.values()), "val_acc"))
    failed = next(r for r in rows if r and r[0] == sweep_runs["failed"])
    assert failed[1:] == ["failed", "RuntimeError: loss is NaN"]


class FakeSweep:
    """Any sweep-like object: run ids, an objective and trials with states and reasons."""

    def __init__(self, runs: list[str]) -> None:
        self.runs = runs
        self.objective = ("val_acc", "max")
        self.name = XSS

    def trials(self) -> list[dict]:
        return [{"trial": 0, "status": "finished", "run_id": self.runs[0]},
                {"trial": 7, "status": "pruned", "run_id": None,
                 "error": "median rule: val_acc 0.2 below median 0.8 at step 3"}]


def test_sweep_object_report_shows_pruned_trials_and_escapes_its_name(sweep_runs) -> None:
    sweep = FakeSweep(list(sweep_runs.values())[:6])
    text = sweep_report(sweep)
    assert XSS not in text and "img" not in [t for t, _ in Page(text).tags]
    pruned = next(r for r in table_rows(text) if r and r[0] == "trial 7")
    assert pruned[1:] == ["pruned", "median rule: val_acc 0.2 below median 0.8 at step 3"]
    md = sweep_report(sweep, format="md")
    assert "| trial 7 | pruned | median rule: val\\_acc 0\\.2 below median 0\\.8 at step 3 |" in md
    assert md.index(sweep_runs["0.1/1"].replace("-", "\\-")) < md.index(sweep_runs["0.001/0"].replace("-", "\\-"))


def test_report_needs_an_objective_for_a_list_of_runs(sweep_runs) -> None:
    with pytest.raises(InvalidInput, match="needs objective="):
        report(list(sweep_runs.values()))
    with pytest.raises(InvalidInput, match=r"objective must be a metric name or \(metric, 'min'\|'max'\)"):
        report_for_runs(list(sweep_runs.values()), ("val_acc", "up"))


def test_report_object_displays_in_a_sandboxed_iframe_or_as_markdown(sweep_runs) -> None:
    run = sweep_runs["0.1/1"]
    shown = report(run)._repr_html_()
    page = Page(shown)
    assert [t for t, _ in page.tags] == ["iframe"]
    frame = page.tags[0][1]
    assert frame["sandbox"] == "allow-scripts", "the report's scripts cannot reach the notebook"
    assert "Bokeh" in frame["srcdoc"] and run in frame["srcdoc"]
    md = report(run, format="md")
    assert md._repr_html_() is None and md._repr_markdown_().startswith("## Run lr0\\.1")


def test_dlb_report_stays_the_function_after_the_reports_package_is_loaded(sweep_runs) -> None:
    import jupyter_dlbench as dlb
    import jupyter_dlbench.reports  # noqa: F401 - importing a submodule sets a package attribute

    first = dlb.report(sweep_runs["0.1/1"], format="md")
    again = dlb.report(sweep_runs["0.1/1"], format="md")
    assert first.text.splitlines()[0] == again.text.splitlines()[0] == "## Run lr0\\.1 (`" + \
        sweep_runs["0.1/1"].replace("-", "\\-") + "`)"
