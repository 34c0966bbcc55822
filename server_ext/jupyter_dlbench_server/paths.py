"""Confining user-given paths: a notebook path must name a file under the server's root_dir.

Jupyter's contents API answers for files under ``root_dir`` only; a REST endpoint that runs a
notebook must not become a way around that. So a path is refused in every form that could
reach outside: absolute, ``..`` segments, backslashes (a Windows separator), NUL bytes, URL
encoding (``%2e%2e%2f`` decoded by one layer and not the other), and, after resolution, a
symlink that leads out of the root.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from jupyter_dlbench.errors import InvalidInput, NotFound

_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")


class PathNotAllowed(InvalidInput):
    code = "path_not_allowed"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotebookNotFound(NotFound):
    code = "notebook_not_found"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def check_relative(raw: str, what: str, field: str | None = None) -> PurePosixPath:
    """``raw`` as a clean relative POSIX path, or PathNotAllowed saying which rule it broke."""
    shown = repr(raw[:200])

    def refuse(why: str) -> PathNotAllowed:
        return PathNotAllowed(f"{what} {shown} is not allowed: {why}", field)

    if not isinstance(raw, str) or not raw:
        raise PathNotAllowed(f"{what} is empty; give a path relative to the server root", field)
    if "\x00" in raw:
        raise refuse("it contains a NUL byte")
    if "\\" in raw:
        raise refuse("use '/' as the separator, not '\\'")
    if _ENCODED.search(raw):
        raise refuse("give the path as plain text, not URL-encoded (%XX)")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or raw.startswith("~"):
        raise refuse("give a path relative to the server root, not an absolute one")
    parts = PurePosixPath(raw).parts
    if ".." in parts:
        raise refuse("'..' is not allowed; give a path inside the server root")
    return PurePosixPath(*[p for p in parts if p != "."])


def confine(root_dir: str | Path, raw: str, what: str = "path", field: str | None = None,
            suffix: str | None = None) -> tuple[Path, str]:
    """The real path of ``raw`` under ``root_dir`` (must exist) and its clean relative form."""
    rel = check_relative(raw, what, field)
    root = Path(root_dir).expanduser().resolve()
    candidate = root / rel
    try:
        real = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise NotebookNotFound(f"{what} {str(rel)!r} does not exist under the server root",
                               field) from None
    except (OSError, RuntimeError) as e:  # symlink loops, permission errors
        raise PathNotAllowed(f"{what} {str(rel)!r} cannot be opened: {e}", field) from None
    if not real.is_relative_to(root):
        raise PathNotAllowed(
            f"{what} {str(rel)!r} is not allowed: it leads outside the server root "
            "(a symlink pointing out)", field)
    if not real.is_file():
        raise PathNotAllowed(f"{what} {str(rel)!r} is a folder, not a file", field)
    if suffix is not None and real.suffix.lower() != suffix:
        raise PathNotAllowed(f"{what} {str(rel)!r} is not a {suffix} file", field)
    return real, rel.as_posix()


def relative_to_root(root_dir: str | Path, path: str) -> str | None:
    """``path`` relative to the server root, or None when it lies outside."""
    root = Path(root_dir).expanduser().resolve()
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None
