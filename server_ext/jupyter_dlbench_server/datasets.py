"""Datasets, their versions and one version's files, as the JSON bodies of ``openapi.yaml``.

Thin over ``jupyter_dlbench.data``, imported on first use: an installation without it answers
501 here while the rest of the API keeps working.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query

from .base import NotAvailable
from .payloads import _scalar, jsonable


def _data() -> Any:
    try:
        from jupyter_dlbench import data
    except ImportError as e:
        raise NotAvailable(f"datasets are not available in this installation ({e})") from None
    return data


def _iso(ts: Any) -> str | None:
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, timezone.utc).isoformat()
    return jsonable(ts)


def _version(v: Any, used_by: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": v.name, "version": v.version, "number": v.number,
        "manifest_oid": v.manifest_oid, "parent": v.parent, "message": v.message,
        "file_count": v.file_count, "total_bytes": v.total_bytes,
        "created_at": _iso(v.created_at), "producer_run_id": v.producer_run_id,
        "metadata": jsonable(v.metadata or {}),
        "used_by": [{**jsonable(u), "ts": _iso(u.get("ts"))} for u in used_by],
    }


def list_datasets(ws: Workspace) -> dict[str, Any]:
    data = _data()
    with query.catalog(ws) as session:
        frame = data.list_datasets(session)
    # a dataset without versions has NaN counts in the frame: absent, not "NaN"
    return {"datasets": [{k: _scalar(v) for k, v in r.items()}
                         for r in frame.to_dict("records")]}


def list_versions(ws: Workspace, name: str) -> dict[str, Any]:
    data = _data()
    with query.catalog(ws) as session:
        versions = data.list_versions(session, name)
        out = [_version(v, data.used_by(session, v.name, v.version)) for v in versions]
    return {"name": name, "versions": out[::-1]}  # newest first


def version_detail(ws: Workspace, name: str, version: str, offset: int,
                   limit: int) -> dict[str, Any]:
    data = _data()
    with query.catalog(ws) as session:
        v = data.resolve(session, name, version)
        used = data.used_by(session, v.name, v.version)
    manifest = data.versions.load_manifest(ws, v)
    paths = list(manifest.entries)
    files = []
    for path in paths[offset : offset + limit]:
        entry = manifest.entries[path]
        files.append({"path": path, "size": entry.size, "oid": entry.oid,
                      "executable": entry.executable, "symlink": entry.symlink})
    return {**_version(v, used), "files": files, "files_total": len(paths), "offset": offset}
