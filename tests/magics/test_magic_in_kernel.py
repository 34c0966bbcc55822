"""``%dlbench`` inside a notebook that papermill executes in a real ``python3`` kernel.

One notebook holds every cell a user would type (help, a typo, a dry run, a real 2×2 sweep of
``examples/train_digits.ipynb`` with ``--wait``, runs and SQL); it runs once per module and each
test reads what it left: the output notebook and the workspace.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import jupyter_dlbench as dlb
from tests.magics.conftest import EXAMPLE, JOB_VARS

pytest.importorskip("torch")
pytest.importorskip("papermill")
# a real 2×2 sweep of a torch notebook: about 40 s on an idle 2-core machine
pytestmark = pytest.mark.slow

CELLS = {
    "load": "%load_ext jupyter_dlbench",
    "help": "%dlbench sweep --help",
    "typo": f"%dlbench sweep lr=0.01,0.05 hiden=16,32 --notebook {EXAMPLE}\nafter_typo = True",
    "dry": f"%dlbench sweep lr=0.01,0.05 hidden=16,32 epochs=1 --notebook {EXAMPLE} --dry-run",
    "jobs_after_dry": "from jupyter_dlbench.store import Workspace\n"
                      "jobs = Workspace.find().root / 'jobs'\n"
                      "print('jobs after dry run:', len(list(jobs.iterdir())) if jobs.exists() else 0)",
    "sweep": f"sweep = %dlbench sweep lr=0.01,0.05 hidden=16,32 epochs=1 --notebook {EXAMPLE} "
             "--concurrency 2 --name grid --wait\n"
             "print('sweep status:', sweep.status, len(sweep.runs))",
    "runs": "%dlbench runs --where \"name like 'grid#%'\"",
    "sql": "%dlbench sql select count(*) as n_finished from runs where status = 'finished'",
    "cell_sql": "%%dlbench sql\nselect count(distinct project) as n_projects\nfrom runs",
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Path, float]:
    tmp = tmp_path_factory.mktemp("magic_kernel")
    home = tmp / "ws" / ".dlbench"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src, metadata={"tags": [key]}) for key, src in CELLS.items()]
    nbformat.write(nb, tmp / "magic.ipynb")
    env = {k: v for k, v in os.environ.items() if k not in JOB_VARS}
    env["DLBENCH_HOME"] = str(home)
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "papermill", "magic.ipynb", "out.ipynb", "-k", "python3"],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=400, check=False)
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-4000:]
    out = nbformat.read(tmp / "out.ipynb", as_version=4)
    cells = {c.metadata["tags"][0]: c for c in out.cells if c.metadata.get("tags")}
    return cells, home, elapsed


def stream(cell: dict, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == name)


def result(cell: dict, mime: str = "text/plain") -> str:
    return "".join(o.data.get(mime, "") for o in cell.outputs if o.output_type == "execute_result")


def body_rows(html: str) -> int:
    return html.split("<tbody>", 1)[1].count("<tr")


def test_sweep_help_prints_usage_in_the_kernel(executed) -> None:
    cells, _, _ = executed
    assert stream(cells["help"], "stdout").startswith("usage: %dlbench sweep")
    assert "--early-stop {median,asha}" in stream(cells["help"], "stdout")


def test_a_typo_in_the_spec_is_one_line_naming_the_token_and_no_traceback(executed) -> None:
    cells, _, _ = executed
    err = stream(cells["typo"], "stderr")
    assert err.startswith("%dlbench sweep: error: sweep spec 'hiden=16,32': ") and err.count("\n") == 1
    assert not any(o.output_type == "error" for o in cells["typo"].outputs)


def test_dry_run_shows_the_grid_table_and_creates_no_jobs(executed) -> None:
    cells, _, _ = executed
    table = result(cells["dry"], "text/html")
    assert body_rows(table) == 4, "four trials"
    for value in ("0.01", "0.05", "16", "32", "epochs"):
        assert value in table
    assert stream(cells["jobs_after_dry"], "stdout") == "jobs after dry run: 0\n"


def test_a_two_by_two_sweep_finishes_four_runs_with_the_grid_params(executed, monkeypatch) -> None:
    cells, home, _ = executed
    assert stream(cells["sweep"], "stdout").endswith("sweep status: finished 4\n")
    outputs = {m for o in cells["sweep"].outputs if o.output_type == "display_data" for m in o.data}
    assert "application/vnd.jupyter.widget-view+json" in outputs, "the live widget was shown"
    monkeypatch.setenv("DLBENCH_HOME", str(home))
    runs = dlb.runs()
    runs = runs[runs["name"].str.startswith("grid#")]
    assert len(runs) == 4 and set(runs["status"]) == {"finished"}
    grid = sorted(zip(runs["params.lr"], runs["params.hidden"], strict=True))
    assert grid == [(0.01, 16), (0.01, 32), (0.05, 16), (0.05, 32)]
    assert set(runs["params.epochs"]) == {1}
    assert all(runs["metrics.val_acc"] > 0.3)


def test_runs_and_sql_magics_return_tables(executed) -> None:
    cells, _, _ = executed
    table = result(cells["runs"], "text/html")
    assert body_rows(table) == 4 and all(f"grid#{n}" in table for n in range(4))
    assert " 4" in result(cells["sql"]) and "n_finished" in result(cells["sql"])
    assert "n_projects" in result(cells["cell_sql"]) and " 1" in result(cells["cell_sql"])
