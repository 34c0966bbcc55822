"""Run reports as a reader meets them: the HTML file (offline, escaped) and the Markdown."""

from __future__ import annotations

import os
import re
from pathlib import Path

from jupyter_dlbench.reports import run_report, write_run_report
from tests.report.pages import XSS, Page, chart_sources, table_rows


def _row(rows: list[list[str]], first: str) -> list[str]:
    return next(r for r in rows if r and r[0] == first)


def test_html_report_shows_params_final_and_best_metrics_and_chart_data(make_run) -> None:
    loss = [1.0, 0.4, 0.2, 0.3]
    run = make_run("baseline", {"lr": 0.01, "optimizer": "adam"}, {"loss": loss, "acc": [0.5, 0.9, 0.8]})
    page_text = run_report(run)
    page = Page(page_text)
    rows = table_rows(page_text)
    assert _row(rows, "lr")[1] == "0.01" and _row(rows, "optimizer")[1] == "adam"
    # metric, final, at step, best, min, max, points
    assert _row(rows, "loss")[1:] == ["0.3", "3", "0.2 (min)", "0.2", "1", "4"]
    assert _row(rows, "acc")[1:] == ["0.8", "2", "0.9 (max)", "0.5", "0.9", "3"]
    assert "baseline" in page.visible and run in page.visible
    sources = chart_sources(page_text)
    lines = {tuple(src["value"]): src["step"] for src in sources if "value" in src}
    assert lines == {tuple(loss): [0, 1, 2, 3], (0.5, 0.9, 0.8): [0, 1, 2]}, "one chart per metric"


def test_html_report_is_one_offline_file_with_bokeh_inline(make_run) -> None:
    page_text = run_report(make_run("x", {"lr": 1}, {"loss": [3.0, 2.0]}))
    page = Page(page_text)
    external = [(t, a) for t, a in page.tags
                if (t == "script" and a.get("src")) or (t == "link" and a.get("href"))]
    assert external == [], "no resource is fetched: the report must work offline and by mail"
    assert any("Bokeh" in s and len(s) > 100_000 for s in page.scripts), "BokehJS is inline"
    assert len(page_text) < 3_000_000


def test_code_diff_against_the_previous_run_of_the_same_notebook(make_run) -> None:
    make_run("first", {"lr": 0.1}, {"loss": [1.0]}, code=["lr = 0.1", "model = 'mlp'"])
    make_run("unrelated", {"lr": 0.2}, {"loss": [1.0]}, code=["lr = 0.1", "model = 'mlp'"])
    second = make_run("second", {"lr": 0.1}, {"loss": [1.0]}, code=["lr = 0.1", "model = 'cnn'"])
    page = Page(run_report(second))
    assert "-model = 'mlp'" in page.visible and "+model = 'cnn'" in page.visible
    # the notebook's code itself is in the report too
    assert "# %% [1]\nmodel = 'cnn'" in page.visible


def test_same_code_as_previous_run_is_said_and_first_run_has_nothing_to_compare(make_run) -> None:
    first = make_run("a", code=["x = 1"])
    second = make_run("b", code=["x = 1"])
    assert "No earlier run of this notebook" in Page(run_report(first)).visible
    assert f"Same code as the previous run of this notebook, {first}" in Page(run_report(second)).visible


def test_report_has_log_tail_environment_and_output_notebook_link(make_run, workspace, tmp_path: Path) -> None:
    out_nb = tmp_path / "out.ipynb"
    out_nb.write_text('{"cells": []}')
    run = make_run("logs", prints="epoch 3: val_acc 0.97", artifact=out_nb)
    path = write_run_report(run, workspace=workspace)
    assert path == workspace.run_dir(run) / "report.html"
    page = Page(path.read_text())
    assert "epoch 3: val_acc 0.97" in page.visible
    rows = table_rows(path.read_text())
    assert _row(rows, "python")[1] and _row(rows, "CPUs")[1] == str(os.cpu_count())
    link = next(a["href"] for t, a in page.tags if t == "a" and a.get("href"))
    assert not link.startswith(("http:", "https:"))
    assert (path.parent / link).resolve().read_text() == '{"cells": []}', "the link opens the notebook"


def test_failed_run_report_shows_the_error(make_run) -> None:
    run = make_run("boom", {"lr": 1}, {"loss": [1.0]}, error="ZeroDivisionError: division by zero",
                   status="failed")
    page = Page(run_report(run))
    assert "Error: ZeroDivisionError: division by zero" in page.visible
    assert "failed" in page.visible


def test_xss_in_run_name_param_and_metric_key_stays_inert_in_html(make_run) -> None:
    run = make_run(XSS, {XSS: XSS, "lr": 0.1}, {XSS: [1.0, 2.0]}, prints=XSS, code=[f"# {XSS}"])
    text = run_report(run)
    page = Page(text)
    assert "img" not in [t for t, _ in page.tags], "no user string became a tag"
    assert XSS not in text
    assert page.visible.count(XSS) >= 5, "the strings are shown, as text"
    rows = table_rows(text)
    assert _row(rows, XSS)[1] == XSS  # the param row (first match): key and value both as text


def _outside_code(md: str) -> str:
    return re.sub(r"(`{3,})[^\n]*\n.*?\n\1", "", md, flags=re.S)


def _md_cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_markdown_report_tables_are_correct_and_escaped(make_run) -> None:
    run = make_run("md|run", {"lr": 0.01, "pipe": "a|b", XSS: "x"}, {"loss": [0.5, 0.25]},
                   prints="hello from the run")
    md = run_report(run, format="md")
    lines = md.splitlines()
    head = lines.index("| param | value |")
    assert lines[head + 1] == "| --- | --- |"
    params = [_md_cells(line) for line in lines[head + 2:head + 5]]
    assert params == [["&lt;img src=x onerror=alert\\(1\\)&gt;", "x"], ["lr", "0\\.01"], ["pipe", "a\\|b"]]
    metric_head = lines.index("| metric | final | at step | best | points | trend |")
    assert _md_cells(lines[metric_head + 2]) == ["loss", "0\\.25", "1", "0\\.25 \\(min\\)", "2", "█▁"]
    assert lines[0] == f"## Run md\\|run (`{run.replace('-', chr(92) + '-')}`)"
    assert "<img" not in _outside_code(md)
    assert "```\nhello from the run\n" in md, "the log tail is a code block"


def test_report_lists_dataset_versions_read_and_written(workspace, tmp_path: Path, monkeypatch) -> None:
    import jupyter_dlbench as dlb

    monkeypatch.setenv("DLBENCH_CAPTURE_PACKAGES", "0")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("hello")
    with dlb.init(name="producer") as a:
        dlb.log_dataset("digits", str(data), message="first")
    with dlb.init(name="consumer") as b:
        dlb.dataset("digits", "v1")
    consumer = run_report(b.id)
    assert "inputs" in Page(consumer).visible and ["digits", "v1"] in table_rows(consumer)
    producer = run_report(a.id)
    assert "outputs" in Page(producer).visible and ["digits", "v1"] in table_rows(producer)
    assert "| digits | v1 |" in run_report(b.id, format="md")
