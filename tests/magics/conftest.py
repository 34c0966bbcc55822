from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_digits.ipynb"
# set inside a dlbench job; a test run there must still behave like a user's kernel
JOB_VARS = ("DLBENCH_RUN_ID", "DLBENCH_JOB_ID", "DLBENCH_NOTEBOOK_PATH", "DLBENCH_INPUT_NOTEBOOK",
            "DLBENCH_SNAPSHOT_OID", "DLBENCH_PROJECT", "JPY_SESSION_NAME")


@pytest.fixture
def shell(workspace_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """A real in-process IPython shell with ``%load_ext jupyter_dlbench`` done."""
    from IPython.core.interactiveshell import InteractiveShell

    for var in JOB_VARS:
        monkeypatch.delenv(var, raising=False)
    ip = InteractiveShell.instance(colors="nocolor")
    ip.user_ns.pop("__session__", None)
    ip.run_line_magic("load_ext", "jupyter_dlbench")
    yield ip
    ip.run_line_magic("unload_ext", "jupyter_dlbench")


@pytest.fixture
def example() -> Path:
    return EXAMPLE


@pytest.fixture
def two_runs(workspace_dir: Path) -> None:
    """Two tracked runs in projects p1 (lr 0.5) and p2 (lr 0.1), made by a real run process."""
    from tests.conftest import run_python

    run_python("""
        import jupyter_dlbench as dlb
        with dlb.init(project="p1", params={"lr": 0.5}) as r:
            r.log({"x": 1.0})
        with dlb.init(project="p2", params={"lr": 0.1}) as r:
            r.log({"x": 2.0})
        """)


@pytest.fixture
def make_notebook(tmp_path: Path):
    from tests.execution.conftest import write_notebook

    def make(name: str, params: str | None, *cells: str) -> Path:
        return write_notebook(tmp_path / name, params, *cells)

    return make


def write_scored_notebook(path: Path) -> Path:
    """Logs ``score = x`` at step 0, sleeps ``pause`` seconds, logs it again at step 1."""
    from tests.execution.conftest import write_notebook

    return write_notebook(
        path, "x = 1.0\npause = 0.0\nlabel = 'a'",
        "import time\nimport jupyter_dlbench as dlb\nrun = dlb.init(project='widget')\n"
        "run.log({'score': float(x)}, step=0)\nrun.flush()\ntime.sleep(pause)\n"
        "run.log({'score': float(x)}, step=1)\nrun.finish()")
