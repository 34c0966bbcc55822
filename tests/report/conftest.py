"""Runs with known params, metrics, code and logs, made through the real tracking API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.report.pages import write_notebook


@pytest.fixture
def make_run(workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``make_run(name, params, {"loss": [..]}, code=..., prints=..., status=...)`` → run id.

    ``code`` (a list of cell sources) becomes the run's notebook snapshot at one fixed
    notebook path, so consecutive runs are "the same notebook" edited in between.
    """
    from jupyter_dlbench.tracking.run import Run

    for what in ("packages", "git", "system"):  # not what these tests are about; saves ~0.3 s a run
        monkeypatch.setenv(f"DLBENCH_CAPTURE_{what.upper()}", "0")
    notebook = tmp_path / "train.ipynb"

    def make(name: str = "run", params: dict[str, Any] | None = None,
             metrics: dict[str, list[float]] | None = None, code: list[str] | None = None,
             prints: str = "", status: str = "finished", error: str | None = None,
             artifact: Path | None = None) -> str:
        write_notebook(notebook, *(code or ["x = 1"]))
        run = Run.start(project="reports", name=name, params=params, workspace=workspace,
                        code=(str(notebook), "notebook"))
        for key, values in (metrics or {}).items():
            for step, value in enumerate(values):
                run.log({key: value}, step=step)
        if prints:
            print(prints)
        if artifact is not None:
            run.log_artifact(artifact, "output.ipynb")
        if error:
            run.mark_failed(error)
        run.finish(status)
        return run.id

    return make


