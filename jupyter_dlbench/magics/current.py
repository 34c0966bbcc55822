"""Which notebook file is this kernel running? ``%dlbench sweep`` runs *that* notebook.

A kernel does not know its notebook; the front end does. Jupyter Server ≥ 2 tells kernels it
starts through ``JPY_SESSION_NAME`` (the notebook's path when JupyterLab gives the session a
file name; otherwise the path relative to the server root), and ipykernel copies it into the
user namespace as ``__session__``. VS Code sets ``__vsc_ipynb_file__``. Inside a dlbench job the
runner sets ``DLBENCH_NOTEBOOK_PATH``. Anything else (a plain ``jupyter console``, papermill)
leaves us guessing, and guessing the wrong notebook would run the wrong code, so we ask for
``--notebook PATH`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidInput


def _candidates(user_ns: Mapping[str, Any], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    found = []
    for source, value in (
        ("JPY_SESSION_NAME", environ.get("JPY_SESSION_NAME")),
        ("__session__", user_ns.get("__session__")),
        ("__vsc_ipynb_file__", user_ns.get("__vsc_ipynb_file__")),
        ("DLBENCH_NOTEBOOK_PATH", environ.get("DLBENCH_NOTEBOOK_PATH")),
    ):
        if isinstance(value, str) and value.strip():
            found.append((source, value.strip()))
    return found


def _resolve(value: str, cwd: Path) -> Path | None:
    path = Path(value).expanduser()
    tries = [path] if path.is_absolute() else [cwd / path, cwd / path.name]
    for p in tries:
        if p.suffix == ".ipynb" and p.is_file():
            return p.resolve()
    return None


def current_notebook(user_ns: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
                     cwd: Path | None = None, hint: str = "--notebook PATH") -> Path:
    """The notebook file this kernel belongs to, or an error asking for ``--notebook PATH``."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    candidates = _candidates(user_ns or {}, environ)
    for _source, value in candidates:
        resolved = _resolve(value, cwd)
        if resolved is not None:
            return resolved
    if candidates:
        seen = ", ".join(f"{source}={value!r}" for source, value in candidates)
        raise InvalidInput(f"this kernel's notebook ({seen}) is not a notebook file under {cwd}; "
                           f"name it: {hint}")
    raise InvalidInput("cannot tell which notebook this kernel runs (no Jupyter session: "
                       f"JPY_SESSION_NAME is unset); name it: {hint}")


def notebook_argument(given: str | None, user_ns: Mapping[str, Any], hint: str = "--notebook PATH") -> Path:
    """``--notebook PATH`` when given (checked to exist), else the kernel's own notebook."""
    if not given:
        return current_notebook(user_ns, hint=hint)
    path = Path(given).expanduser()
    if not path.is_file():
        raise InvalidInput(f"notebook {given!r} does not exist (relative paths start at {Path.cwd()})")
    if path.suffix != ".ipynb":
        raise InvalidInput(f"{given!r} is not a notebook: expected a .ipynb file")
    return path.resolve()
