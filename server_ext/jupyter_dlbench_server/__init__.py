"""Jupyter Server extension for jupyter-dlbench: the REST API under ``/dlbench/api/``.

A thin adapter over the ``jupyter_dlbench`` library; the contract is ``server_ext/openapi.yaml``.
"""

from __future__ import annotations

from typing import Any

from jupyter_dlbench import __version__

from .app import DlbenchServer

__all__ = ["DlbenchServer", "__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "jupyter_dlbench_server", "app": DlbenchServer}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Entry for servers that load the module itself; the extension manager uses the app form."""
    DlbenchServer._load_jupyter_server_extension(server_app)
