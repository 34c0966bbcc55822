"""The comparison widget driven like a user would, checked in its real bokeh/ipywidgets models.

Every assertion reads what the browser would draw: the ColumnDataSources' data, the figures'
visibility, the HTML of the diff view.
"""

from __future__ import annotations

import math
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.tracking.run import Run
from jupyter_dlbench.widgets.compare import compare

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def make_run(workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for what in ("packages", "git", "system"):
        monkeypatch.setenv(f"DLBENCH_CAPTURE_{what.upper()}", "0")
    notebook = tmp_path / "train.ipynb"

    def make(name: str, params: dict[str, Any], metrics: dict[str, list[float]],
             code: str = "x = 1", finish: bool = True) -> Run:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(code)]
        nbformat.write(nb, notebook)
        run = Run.start(project="cmp", name=name, params=params, workspace=workspace,
                        code=(str(notebook), "notebook"))
        for key, values in metrics.items():
            for step, v in enumerate(values):
                run.log({key: v}, step=step)
        if finish:
            run.finish()
        else:
            run.flush()
        return run

    return make


@pytest.fixture
def three(make_run):  # type: ignore[no-untyped-def]
    """lr 0.1 is best on val_acc; each run has 20 steps of loss and val_acc."""
    runs = {}
    for lr, opt, final in [(0.001, "sgd", 0.7), (0.01, "adam", 0.8), (0.1, "adam", 0.9)]:
        loss = [math.exp(-i * lr * 10) for i in range(20)]
        acc = [final * (1 - math.exp(-i / 5)) for i in range(20)]
        runs[lr] = make_run(f"lr={lr}", {"lr": lr, "opt": opt}, {"loss": loss, "val_acc": acc},
                            code=f"lr = {lr}\noptimizer = '{opt}'").id
    return runs


def test_opening_selects_the_best_runs_and_plots_their_curves(workspace, three) -> None:
    w = compare(list(three.values()), objective=("val_acc", "max"), workspace=workspace)
    assert w.selected_ids == [three[0.1], three[0.01], three[0.001]], "best first"
    data = w.curve_source.data
    assert [r.split()[0] for r in data["run"]] == w.selected_ids
    assert data["xs"][0] == [float(i) for i in range(20)]
    assert data["ys"][0] == pytest.approx([0.9 * (1 - math.exp(-i / 5)) for i in range(20)])
    assert sorted(w.table_source.selected.indices) == [0, 1, 2]
    assert len(w.table_source.data["run_id"]) == 3
    w.close()


def test_table_selection_from_the_browser_drives_the_curves(workspace, three) -> None:
    w = compare(list(three.values()), objective="val_acc", workspace=workspace)
    row = w.table_source.data["run_id"].index(three[0.01])
    w.table_source.selected.indices = [row]  # what a click in the DataTable syncs back
    assert w.selected_ids == [three[0.01]]
    assert len(w.curve_source.data["ys"]) == 1
    assert w.curve_source.data["ys"][0][-1] == pytest.approx(0.8 * (1 - math.exp(-19 / 5)))
    w.close()


def test_filter_hides_rows_and_drops_hidden_runs_from_the_charts(workspace, three) -> None:
    w = compare(list(three.values()), objective="val_acc", workspace=workspace)
    w.set_filter("ADAM")
    assert sorted(w.table_source.data["run_id"]) == sorted([three[0.01], three[0.1]])
    assert set(w.table_source.data["params.opt"]) == {"adam"}
    assert w.selected_ids == [three[0.1], three[0.01]]
    assert len(set(w.pc_source.data["run"])) == 2 and len(w.scatter_source.data["x"]) == 2
    assert "2 of 3 runs shown" in w.count_label.value
    w.set_filter("")
    assert len(w.table_source.data["run_id"]) == 3
    w.close()


def test_metric_x_axis_smoothing_and_log_scale(workspace, three) -> None:
    w = compare([three[0.1]], objective="val_acc", workspace=workspace)
    w.metric_menu.value = "loss"
    raw = [math.exp(-i) for i in range(20)]
    assert w.curve_source.data["ys"][0] == pytest.approx(raw)
    assert w.curve_linear.title.text == "loss"
    w.x_menu.value = "wall time (s)"
    xs = w.curve_source.data["xs"][0]
    assert xs == sorted(xs) and 0 <= xs[0] < xs[-1] < 60, "seconds since the run started"
    w.smooth_slider.value = 0.5
    ys = w.curve_source.data["ys"][0]
    assert w.curve_source.data["raw"][0] == pytest.approx(raw), "the raw curve stays, faint"
    expected, last = [], 0.0
    for n, v in enumerate(raw, 1):
        last = 0.5 * last + 0.5 * v
        expected.append(last / (1 - 0.5 ** n))
    assert ys == pytest.approx(expected)
    assert w.curve_linear.visible and not w.curve_log.visible
    w.log_toggle.value = True
    assert w.curve_log.visible and not w.curve_linear.visible
    assert w.curve_log.y_scale.__class__.__name__ == "LogScale"
    with pytest.raises(InvalidInput, match="unknown metric 'nope'"):
        w.set_metric("nope")
    w.close()


def polylines(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each run's polyline across the axes, rebuilt from the chart's segments."""
    out: dict[str, dict[str, Any]] = {}
    for run, x0, y0, y1, color, width in zip(data["run"], data["x0"], data["y0"], data["y1"],
                                             data["color"], data["width"], strict=True):
        line = out.setdefault(run, {"ys": {}, "color": set(), "width": set()})
        line["ys"][int(x0)], line["ys"][int(x0) + 1] = y0, y1
        line["color"].add(color)
        line["width"].add(float(width))
    for line in out.values():
        line["ys"] = [line["ys"][i] for i in sorted(line["ys"])]
    return out


def test_parallel_coordinates_and_scatter_highlight_the_best_run(workspace, three) -> None:
    w = compare(list(three.values()), objective="val_acc", workspace=workspace)
    lines = polylines(w.pc_source.data)
    assert set(lines) == set(three.values())
    assert lines[three[0.1]]["color"] == {"#d62728"} and lines[three[0.1]]["width"] == {4.0}
    assert all(lines[three[lr]]["color"] != {"#d62728"} for lr in (0.001, 0.01))
    # axes: lr (log-spread), opt (categorical), val_acc; the best run tops the objective axis
    assert w.pc_axes.data["name"] == ["lr", "opt", "val_acc"]
    assert lines[three[0.1]]["ys"] == pytest.approx([1.0, 0.0, 1.0])
    assert lines[three[0.001]]["ys"] == pytest.approx([0.0, 1.0, 0.0])
    assert lines[three[0.01]]["ys"][0] == pytest.approx(0.5)
    sc = w.scatter_source.data
    assert sorted(sc["x"]) == pytest.approx([-3, -2, -1]) and w.scatter_fig.xaxis.axis_label == "log10(lr)"
    i = sc["run"].index(three[0.1])
    assert sc["y"][i] == pytest.approx(0.9 * (1 - math.exp(-19 / 5))) and sc["size"][i] == 14.0
    w.scatter_menu.value = "opt"
    assert w.scatter_source.data["label"][i] == "adam" and w.scatter_fig.xaxis.axis_label == "opt"
    w.close()


class _Tags(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_diff_view_shows_params_metrics_and_the_code_diff(workspace, three) -> None:
    w = compare(list(three.values()), objective="val_acc", workspace=workspace)
    w.diff_a.value, w.diff_b.value = three[0.001], three[0.1]
    text = " ".join(_Tags(w.diff_view.value).text)
    assert "lr 0.001 0.1" in " ".join(text.split())
    assert "opt sgd adam" in " ".join(text.split())
    assert "-lr = 0.001" in text and "+lr = 0.1" in text and "+optimizer = 'adam'" in text
    w.close()


def test_user_strings_stay_inert_in_table_and_diff(workspace, make_run) -> None:
    a = make_run(XSS, {XSS: XSS}, {XSS: [1.0, 2.0]}, code=f"# {XSS}").id
    b = make_run("plain", {XSS: "other"}, {XSS: [3.0]}).id
    w = compare([a, b], objective=XSS, workspace=workspace)
    titles = {c.field: c.title for c in w.table.columns}
    assert titles[f"params.{XSS}"] == "&lt;img src=x onerror=alert(1)&gt;", "headers are HTML in SlickGrid"
    assert all(type(c.formatter).__name__ in ("StringFormatter", "NumberFormatter") for c in w.table.columns)
    assert XSS in w.table_source.data["name"], "cells are plain text, shown as typed"
    html = w.diff(a, b)
    assert "img" not in _Tags(html).tags and XSS not in html
    assert XSS in " ".join(_Tags(html).text)
    assert "img" not in _Tags(w.children[0].value).tags
    w.close()


def test_live_update_follows_a_running_run_and_stops_when_it_ends(workspace, make_run) -> None:
    run = make_run("live", {"lr": 0.1}, {"loss": [1.0, 0.9]}, finish=False)
    w = compare([run.id], objective="-loss", workspace=workspace, poll_interval=0.1)
    assert w.curve_source.data["ys"][0] == [1.0, 0.9]
    assert w._poller is not None and w._poller.is_alive()
    for step in range(2, 6):
        run.log({"loss": 1.0 / step}, step=step)
    run.flush()
    deadline = time.monotonic() + 30
    while len(w.curve_source.data["ys"][0]) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert w.curve_source.data["ys"][0][-1] == pytest.approx(0.2)
    run.finish()
    w._poller.join(timeout=30)
    assert not w._poller.is_alive(), "polling stops once no selected run is running"
    assert w.table_source.data["status"] == ["finished"]
    w.close()


def test_closing_the_widget_stops_live_updates(workspace, make_run) -> None:
    run = make_run("live", {"lr": 0.1}, {"loss": [1.0]}, finish=False)
    w = compare([run.id], workspace=workspace, poll_interval=0.1)
    poller = w._poller
    assert poller is not None and poller.is_alive()
    w.close()
    poller.join(timeout=10)
    assert not poller.is_alive()
    run.finish()


def test_compare_takes_a_sweep_like_object_or_where_filter(workspace, three) -> None:
    class Sweep:
        runs = [three[0.01], three[0.1]]
        objective = ("loss", "min")
        name = "s1"

    w = compare(Sweep(), workspace=workspace)
    assert w.objective == ("loss", "min") and sorted(w.frame["run_id"]) == sorted(Sweep.runs)
    w.close()
    w = compare(where="params.lr < 0.05", workspace=workspace)
    assert sorted(w.frame["run_id"]) == sorted([three[0.001], three[0.01]])
    w.close()
    with pytest.raises(InvalidInput, match="compare\\(\\) takes a sweep"):
        compare(42, workspace=workspace)
    with pytest.raises(InvalidInput, match="the objective 'val_loss' was not logged by these runs; "
                                           "they logged: loss, val_acc"):
        compare(list(three.values()), objective="val_loss", workspace=workspace)


def test_epoch_axis_uses_the_logged_epoch_metric(workspace, make_run) -> None:
    # 4 steps per epoch: steps 0..11 are epochs 0, 0.25, ..., 2.75
    run = make_run("epochs", {"lr": 0.1}, {"loss": [1.0 / (s + 1) for s in range(12)]})
    with_epochs = make_run("epochs2", {"lr": 0.2}, {"loss": [1.0] * 12, "epoch": [s / 4 for s in range(12)]})
    w = compare([run.id, with_epochs.id], objective="-loss", workspace=workspace)
    assert "epoch" in w.x_menu.options
    w.x_menu.value = "epoch"
    data = w.curve_data()
    assert [r.split()[0] for r in data["run"]] == [with_epochs.id], "runs without epochs are left out"
    assert data["xs"][0] == [s / 4 for s in range(12)]
    w.close()
    w = compare([run.id], objective="-loss", workspace=workspace)
    assert "epoch" not in w.x_menu.options
    with pytest.raises(InvalidInput, match="the epoch axis needs runs that log an 'epoch' metric"):
        w.set_x("epoch")
    w.close()


def test_dataset_versions_show_in_the_table_and_the_diff(workspace, tmp_path, monkeypatch) -> None:
    import jupyter_dlbench as dlb

    for what in ("packages", "git", "system"):
        monkeypatch.setenv(f"DLBENCH_CAPTURE_{what.upper()}", "0")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("hello")
    with dlb.init(name="producer") as a:
        dlb.log_dataset("digits", str(data), message="first")
        a.log({"loss": 1.0})
    with dlb.init(name="consumer") as b:
        dlb.dataset("digits", "v1")
        b.log({"loss": 0.5})
    w = compare([a.id, b.id], objective="-loss", workspace=workspace)
    table = dict(zip(w.table_source.data["run_id"], w.table_source.data["datasets"], strict=True))
    assert table == {a.id: "→ digits@v1", b.id: "digits@v1"}
    rows = [" ".join(r.split()) for r in " ".join(_Tags(w.diff(a.id, b.id)).text).split("inputs")[1:]]
    assert rows and rows[0].startswith("digits@v1 outputs digits@v1")
    w.close()


def test_many_runs_load_curves_only_for_the_selection_each_at_most_2000_points(workspace) -> None:
    from tests.widgets.bulk_runs import fill

    fill(workspace, runs=40, steps=5000)
    w = compare(workspace=workspace, objective="acc")
    assert len(w.table_source.data["run_id"]) == 40
    assert len(w.selected_ids) == 5 and set(w._curves) == set(w.selected_ids), "no curve read for the rest"
    for ys in w.curve_source.data["ys"]:
        assert 1000 < len(ys) <= 2000
    w.close()
