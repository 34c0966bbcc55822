"""Where one project's state lives: found like ``.git`` by walking up, created on first use."""

from __future__ import annotations

import os
from pathlib import Path

from .. import settings
from ..errors import WorkspaceError, WorkspaceNotWritable
from .dataset_records import DatasetRecords
from .index import Catalog
from .objects import ObjectStore


def _root_path(path: str | os.PathLike[str], source: str) -> Path:
    """An absolute workspace path, or a clear error for one no file system can hold."""
    text = os.fspath(path)
    if "\x00" in str(text):
        raise WorkspaceError(f"the workspace path given by {source} contains a NUL byte")
    root = Path(text).expanduser().absolute()
    try:
        root.exists()
    except OSError as e:  # ENAMETOOLONG and friends: say which path, not a traceback
        raise WorkspaceError(
            f"the workspace path given by {source} cannot be used ({e.strerror}): {str(root)[:200]}"
        ) from None
    return root


class Workspace:
    """The ``.dlbench/`` folder: catalog, objects and run folders side by side."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = ObjectStore(root / "objects")
        self.dataset_records = DatasetRecords(root / "datasets", self.objects,
                                              settings.catalog_lock_timeout())
        self.catalog = Catalog(
            root / "catalog.duckdb", root / "catalog.lock", settings.catalog_lock_timeout(),
            fold=self.dataset_records.fold,
        )
        self.runs_dir = root / "runs"

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None, create: bool = True) -> Workspace:
        """``DLBENCH_HOME`` if set, else the nearest ``.dlbench`` above ``start``, else a new one."""
        home = os.environ.get(settings.HOME_ENV)
        if home:
            root = _root_path(home, settings.HOME_ENV)
        else:
            here = Path(start or os.getcwd()).absolute()
            root = next(
                (d / settings.WORKSPACE_DIRNAME for d in (here, *here.parents)
                 if (d / settings.WORKSPACE_DIRNAME).is_dir()),
                here / settings.WORKSPACE_DIRNAME,
            )
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"the workspace path {root} exists but is not a folder")
        if not root.exists():
            if not create:
                raise WorkspaceError(f"no workspace at {root}; run `dlb.init()` to create one")
            ws = cls(root)
            ws.create()
            return ws
        ws = cls(root)
        if create and not ws.runs_dir.is_dir() and os.access(root, os.W_OK):
            # another process is creating the workspace this moment (its root exists, its
            # folders not yet): finish the job rather than call the workspace read-only
            ws.create()
        return ws

    @classmethod
    def find_at(cls, path: str | os.PathLike[str]) -> Workspace:
        """An explicit workspace folder (created when missing)."""
        root = _root_path(path, "--workspace" if isinstance(path, str) else "workspace")
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"the workspace path {root} exists but is not a folder")
        ws = cls(root)
        if not root.exists():
            ws.create()
        return ws

    def create(self) -> None:
        try:
            for d in (self.root, self.runs_dir, self.objects.root, self.root / "tmp"):
                d.mkdir(parents=True, exist_ok=True)
        except PermissionError as e:
            raise WorkspaceNotWritable(
                f"cannot create the workspace at {self.root}: {e.strerror}; set DLBENCH_HOME to a "
                "writable folder"
            ) from None
        except OSError as e:  # a parent that is a file, a missing mount, a full disk
            raise WorkspaceError(
                f"cannot create the workspace at {self.root}: {e.strerror}; point DLBENCH_HOME "
                "or --workspace at a folder that can be created"
            ) from None

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def writable(self) -> bool:
        return os.access(self.root, os.W_OK) and os.access(self.runs_dir, os.W_OK)
