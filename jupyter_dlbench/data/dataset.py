"""The object ``dlb.dataset(...)`` returns, and the read-side operations on versions."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..store import CatalogSession, Workspace
from .checkout import CheckoutStats, checkout, materialise
from .manifest import Change, Manifest, diff
from .versions import (
    DatasetVersion,
    check_name,
    check_version,
    load_manifest,
    parse_ref,
    resolve,
    resolve_recorded,
)


@dataclass(frozen=True)
class Dataset:
    """One dataset version materialised on local disk (read-only files under ``path``).

    ``files`` lists the relative paths; ``manifest`` maps each to its object and size.
    """

    name: str
    version: str
    path: Path
    manifest: Manifest
    info: DatasetVersion
    workspace: Workspace | None = field(default=None, repr=False, compare=False)

    @property
    def files(self) -> list[str]:
        return list(self.manifest.entries)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def __repr__(self) -> str:
        return f"<Dataset {self.ref} files={len(self.manifest)} path={str(self.path)!r}>"

    def check(self, label_column: str | None = None):  # type: ignore[no-untyped-def]
        """A quality report of this version (see :func:`jupyter_dlbench.data.checks.check`)."""
        from .checks import check

        return check(self.path, label_column=label_column, manifest=self.manifest)

    def clean(self, drop: Iterable[str] | None = None, message: str | None = None):  # type: ignore[no-untyped-def]
        """Commit a cleaned child version; returns ``(DatasetVersion, CleanResult)``."""
        from .clean import DEFAULT_DROP, clean_version

        if self.workspace is None:
            raise InvalidInput(f"{self.ref} was not opened from a workspace; use dlb.dataset(...)")
        return clean_version(self.workspace, self, drop=DEFAULT_DROP if drop is None else drop, message=message)

    def file(self, rel: str) -> Path:
        """The local path of one file of the version."""
        if rel not in self.manifest.entries:
            raise InvalidInput(f"{rel!r} is not a file of {self.ref}")
        return self.path / rel


def open_dataset(ws: Workspace, name: str, version: str = "latest") -> Dataset:
    """Resolve ``name``/``version`` and materialise it in the workspace's dataset cache."""
    check_name(name)
    version = check_version(version)
    info = resolve_recorded(ws, name, version)
    manifest = load_manifest(ws, info)
    path = materialise(ws, info.manifest_oid, manifest, info.ref)
    return Dataset(info.name, info.version, path, manifest, info, ws)


def diff_versions(ws: Workspace, session: CatalogSession, name: str, a: str, b: str) -> dict[str, Any]:
    """Changes from version ``a`` to ``b``: lists of added/removed/modified with sizes."""
    va, vb = resolve(session, name, a), resolve(session, name, b)
    changes = diff(load_manifest(ws, va), load_manifest(ws, vb))
    return _group(va, vb, changes)


def _group(va: DatasetVersion, vb: DatasetVersion, changes: list[Change]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": va.name, "from": va.version, "to": vb.version,
                           "added": [], "removed": [], "modified": []}
    for c in changes:
        out[c.change].append(c.to_json())
    out["summary"] = {k: len(out[k]) for k in ("added", "removed", "modified")}
    return out


def checkout_version(ws: Workspace, session: CatalogSession, name: str, version: str,
                     dest: str | os.PathLike[str], force: bool = False) -> tuple[DatasetVersion, CheckoutStats]:
    info = resolve(session, name, version)
    stats = checkout(ws, load_manifest(ws, info), dest, force=force, what=info.ref)
    return info, stats


def checkout_ref(ws: Workspace, ref: str, dest: str | os.PathLike[str],
                 force: bool = False) -> tuple[DatasetVersion, CheckoutStats]:
    """``checkout("digits@v2", DIR)``: resolve the reference and write the files into ``dest``."""
    name, version = parse_ref(ref)
    info = resolve_recorded(ws, name, version)
    return info, checkout(ws, load_manifest(ws, info), dest, force=force, what=info.ref)
