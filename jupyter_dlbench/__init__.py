"""jupyter-dlbench: a notebook-native deep-learning workbench.

``import jupyter_dlbench as dlb`` stays fast: the API loads DuckDB, Arrow and friends on first
use, not at import.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {"init", "log", "log_artifact", "finish", "current_run", "runs", "run_info", "metrics", "sql",
        "dataset", "log_dataset", "compare", "report", "sweep", "label"}

__all__ = sorted(_API | {"__version__", "DlbenchError"})


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "DlbenchError":
        from .errors import DlbenchError

        return DlbenchError
    raise AttributeError(f"module 'jupyter_dlbench' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "_labextension", "dest": "jupyter-dlbench"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_dlbench`` registers the ``%dlbench`` magic (IPython loads it lazily)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)
