"""A report opened in headless Chromium, offline: charts render, no console errors, screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from jupyter_dlbench.reports import report_for_runs, write_run_report
from tests.report.pages import XSS

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium binary (CHROMIUM_PATH)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# records console.error calls and uncaught errors, then how many bokeh views rendered
PROBE = """<script>window.__errors=[];(function(){var e=console.error;console.error=function(){
window.__errors.push(Array.prototype.join.call(arguments,' '));return e.apply(console,arguments)};
window.addEventListener('error',function(ev){window.__errors.push(String(ev.message))});
window.addEventListener('load',function(){setTimeout(function(){var b=document.body;
b.setAttribute('data-errors',JSON.stringify(window.__errors));
b.setAttribute('data-views',String(window.Bokeh?Object.keys(window.Bokeh.index).length:-1))},500)})})();
</script>"""


def browse(page: Path, tmp: Path) -> tuple[list[str], int]:
    """Console errors and the number of rendered bokeh views of ``page``."""
    probed = tmp / f"probed-{page.name}"
    probed.write_text(page.read_text().replace("<head>", "<head>" + PROBE, 1))
    done = subprocess.run([CHROMIUM, *FLAGS, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = dict(re.findall(r'data-(errors|views)="([^"]*)"', done.stdout))
    assert found, f"the probe did not report back: {done.stderr[-2000:]}"
    return json.loads(found["errors"].replace("&quot;", '"')), int(found["views"])


def screenshot(page: Path, png: Path) -> None:
    subprocess.run([CHROMIUM, *FLAGS, "--window-size=1200,1600", "--virtual-time-budget=5000",
                    f"--screenshot={png}", page.as_uri()], capture_output=True, timeout=120, check=True)


def test_run_and_sweep_reports_render_in_chromium_without_console_errors(make_run, workspace, tmp_path) -> None:
    runs = [make_run(XSS if i == 0 else f"r{i}", {"lr": 10.0 ** -i, "opt": "adam" if i % 2 else "sgd"},
                     {"loss": [1.0, 0.5 / (i + 1), 0.2 / (i + 1)], "acc": [0.3, 0.6 + i / 20, 0.8 + i / 20]})
            for i in range(3)]
    run_page = write_run_report(runs[0], workspace=workspace)
    sweep_page = tmp_path / "sweep.html"
    sweep_page.write_text(report_for_runs(runs, ("acc", "max")))

    errors, views = browse(run_page, tmp_path)
    assert errors == [] and views >= 2, (errors, views)
    errors, views = browse(sweep_page, tmp_path)
    assert errors == [] and views >= 4, (errors, views)  # parallel coords, scatter, best curves

    shots = Path(os.environ.get("DLBENCH_TEST_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    for page in (run_page, sweep_page):
        png = shots / f"report-{page.stem}.png"
        screenshot(page, png)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_the_probe_does_see_console_errors(tmp_path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<html><head></head><body><script>console.error('boom'); missing();</script></body></html>")
    errors, views = browse(bad, tmp_path)
    assert errors == ["boom", "Uncaught ReferenceError: missing is not defined"] and views == -1
