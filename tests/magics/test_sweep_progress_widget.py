"""The live sweep widget with real ipywidgets, bokeh and jupyter_bokeh models and a real sweep."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from jupyter_dlbench.sweeps import parse_spec, start_sweep
from jupyter_dlbench.widgets.sweep_progress import SweepProgress
from tests.magics.conftest import write_scored_notebook

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def idle_sweep(workspace, tmp_path: Path):
    """A real sweep handle, cancelled at once: update() is fed hand-made trial lists."""
    sweep = start_sweep(workspace, write_scored_notebook(tmp_path / "idle.ipynb"), parse_spec(["x=1,2"]),
                        concurrency=1, objective="score:max", name="idle")
    sweep.cancel()
    sweep.wait(timeout=60, progress=False)
    return sweep


def trial(n: int, status: str, objective: float | None = None, **params: object) -> dict:
    return {"trial": n, "params": params or {"x": n}, "status": status, "job_id": f"job-{n}",
            "run_id": f"run{n}" if status != "queued" else None, "objective": objective,
            "best": objective, "elapsed_s": 1.5 * n if status != "queued" else None, "error": None}


def table_rows(widget: SweepProgress) -> list[list[str]]:
    body = widget.table.value.split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>") if "<td" in row]


def test_update_fills_rows_chart_and_best_run(idle_sweep) -> None:
    widget = SweepProgress(idle_sweep)
    assert "no trials yet" in widget.table.value and widget.source.data["trial"] == []

    widget.update([trial(0, "finished", 0.81), trial(1, "running", 0.5), trial(2, "queued")])
    rows = table_rows(widget)
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert rows[0][1] == "0" and "finished" in rows[0][2] and rows[0][3] == "0.81"
    assert "queued" in rows[2][2] and rows[2][3] == ""
    assert widget.source.data["trial"] == [0, 1] and widget.source.data["objective"] == [0.81, 0.5]
    assert widget.best_source.data == {"trial": [0], "best": [0.81]}
    assert "trial 0" in widget.best_label.value and "score = 0.81" in widget.best_label.value
    assert "1/3 trials ended" in widget.header.value and not widget.done

    widget.update([trial(0, "finished", 0.81), trial(1, "finished", 0.93), trial(2, "failed")])
    assert widget.source.data["objective"] == [0.81, 0.93]
    assert widget.best_source.data == {"trial": [0, 1], "best": [0.81, 0.93]}
    assert "trial 1" in widget.best_label.value and "run1" in widget.best_label.value
    assert widget.done and widget.cancel_button.disabled


def test_a_min_objective_picks_the_lowest(idle_sweep) -> None:
    widget = SweepProgress(idle_sweep)
    widget.direction = "min"
    widget.update([trial(0, "finished", 0.4), trial(1, "finished", 0.2), trial(2, "finished", 0.3)])
    assert widget.best_source.data["best"] == [0.4, 0.2, 0.2]
    assert "trial 1" in widget.best_label.value


def test_the_chart_is_patched_in_place_not_rebuilt(idle_sweep) -> None:
    widget = SweepProgress(idle_sweep)
    source, plot = widget.source, widget.figure
    sent: list[dict] = []
    widget.chart.send = lambda content, buffers=None: sent.append(content)  # the comm to the browser
    widget.update([trial(0, "finished", 0.7)])
    assert widget.source is source and widget.figure is plot
    assert sent and all(m["msg"] == "patch" for m in sent), "a bokeh PATCH-DOC went to the page"
    sent.clear()
    widget.update([trial(0, "finished", 0.7)])
    assert sent == [], "nothing changed, nothing sent"


def test_user_strings_are_escaped(idle_sweep) -> None:
    widget = SweepProgress(idle_sweep)
    bad = trial(0, "finished", 0.9, label=XSS)
    bad["error"] = XSS
    widget.update([bad])
    for html in (widget.table.value, widget.best_label.value):
        assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in widget.table.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in widget.best_label.value


def test_the_cancel_button_cancels_the_sweep(workspace, tmp_path: Path) -> None:
    sweep = start_sweep(workspace, write_scored_notebook(tmp_path / "slow.ipynb"),
                        parse_spec(["x=1,2,3", "pause=60"]), concurrency=1, objective="score:max")
    widget = SweepProgress(sweep)
    deadline = time.monotonic() + 60
    while not any(t["steps"] for t in sweep.trials()) and time.monotonic() < deadline:
        time.sleep(0.2)  # the first trial's kernel is up and inside its 60 s pause
    widget.poll_once()
    assert "running" in table_rows(widget)[0][3] and table_rows(widget)[0][4] == "1"
    widget.cancel_button.click()
    assert widget.cancel_button.disabled and widget.cancel_button.description == "Cancelled"
    sweep.wait(timeout=60, progress=False)
    assert sweep.done and sweep.status == "cancelled"
    assert [t["status"] for t in sweep.trials()] == ["cancelled"], "no trial starts after a cancel"
    assert widget.poll_once() is True
    assert "done" in widget.header.value


def test_polling_follows_a_real_sweep_to_its_end(workspace, tmp_path: Path) -> None:
    sweep = start_sweep(workspace, write_scored_notebook(tmp_path / "fast.ipynb"), parse_spec(["x=1,3"]),
                        concurrency=2, objective="score:max", name=XSS)
    widget = SweepProgress(sweep, interval=0.2).start()
    deadline = time.monotonic() + 120
    while widget.polling and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not widget.polling, "the poller stops by itself when the sweep ends"
    assert widget.done and widget.cancel_button.description == "Sweep ended"
    assert sorted(widget.source.data["objective"]) == [1.0, 3.0]
    assert "x=3" in widget.best_label.value and "score = 3" in widget.best_label.value
    assert XSS not in widget.header.value and "&lt;img" in widget.header.value
    assert widget.message.value == ""
