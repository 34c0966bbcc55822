"""Dataset versions: commit a manifest as ``NAME`` ``vN``, list and resolve versions.

A version is committed under the catalog's exclusive lock in one transaction: the number is
taken there (so two processes adding the same name get v2 and v3, never two v2s), and content
identical to the latest version returns that version instead of making a new one. A JSON
record per version is also written beside the catalog (``datasets/NAME/vN.json``) so the
versions survive a catalog rebuild.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFound, InvalidInput, ObjectNotFound
from ..store import CatalogSession, Workspace
from .manifest import Manifest
from .snapshot import SnapshotStats, snapshot
from .statcache import StatCache

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION = re.compile(r"^v([1-9][0-9]{0,8})$")
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters"

VERSION_COLUMNS = ["name", "version", "number", "manifest_oid", "parent", "message", "file_count",
                   "total_bytes", "created_at", "producer_run_id", "metadata"]


@dataclass(frozen=True)
class DatasetVersion:
    """One committed version (a catalog row); ``created`` is False when an add found no change."""

    name: str
    version: str
    number: int
    manifest_oid: str
    parent: str | None
    message: str
    file_count: int
    total_bytes: int
    created_at: float
    producer_run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created: bool = True

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AddResult:
    version: DatasetVersion
    stats: SnapshotStats | None


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(f"{name!r} is not a valid dataset name; use {NAME_RULE}")
    return name


def parse_ref(ref: str, default_version: str | None = "latest") -> tuple[str, str]:
    """``NAME@v2`` / ``NAME@latest`` / ``NAME`` → (name, version or 'latest')."""
    if not isinstance(ref, str):
        raise InvalidInput(f"a dataset reference must be a string like 'digits@v2', got {type(ref).__name__}")
    name, sep, version = ref.partition("@")
    check_name(name)
    if not sep:
        if default_version is None:
            raise InvalidInput(f"{ref!r} names no version; write NAME@v2 or NAME@latest")
        version = default_version
    return name, check_version(version)


def check_version(version: object) -> str:
    if version == "latest":
        return "latest"
    if isinstance(version, int) and not isinstance(version, bool) and version > 0:
        return f"v{version}"
    if isinstance(version, str) and _VERSION.match(version):
        return version
    raise InvalidInput(f"{version!r} is not a dataset version; expected 'v1', 'v2', … or 'latest'")


def _row_to_version(row: tuple[Any, ...], created: bool = True) -> DatasetVersion:
    d = dict(zip(VERSION_COLUMNS, row, strict=True))
    meta = d.pop("metadata")
    return DatasetVersion(**d, metadata=json.loads(meta) if meta else {}, created=created)


def _select(session: CatalogSession, where: str, args: list[Any]) -> list[DatasetVersion]:
    cols = ", ".join(VERSION_COLUMNS)
    rows = session.execute(f"SELECT {cols} FROM dataset_version_rows WHERE {where} ORDER BY name, number", args)
    return [_row_to_version(r) for r in rows]


def resolve(session: CatalogSession, name: str, version: str = "latest") -> DatasetVersion:
    """The version row for ``name``/``version``; a clear error lists what exists otherwise."""
    check_name(name)
    version = check_version(version)
    if version == "latest":
        found = _select(session, "name = ? AND number = (SELECT max(number) FROM dataset_version_rows "
                        "WHERE name = ?)", [name, name])
    else:
        found = _select(session, "name = ? AND version = ?", [name, version])
    if found:
        return found[0]
    known = [r[0] for r in session.execute(
        "SELECT version FROM dataset_version_rows WHERE name = ? ORDER BY number", [name])]
    if not known:
        names = [r[0] for r in session.execute("SELECT name FROM dataset_rows ORDER BY name LIMIT 20")]
        listing = f"known datasets: {', '.join(names)}" if names else "no datasets exist yet"
        raise DatasetNotFound(f"no dataset named {name!r} ({listing}); `dlbench data add {name} PATH` creates it")
    shown = ", ".join(known[-10:])
    raise DatasetNotFound(f"dataset {name!r} has no version {version} (it has {shown})")


def list_versions(session: CatalogSession, name: str) -> list[DatasetVersion]:
    check_name(name)
    found = _select(session, "name = ?", [name])
    if not found:
        resolve(session, name)  # raises the "no such dataset" error
    return found


def list_datasets(session: CatalogSession):  # type: ignore[no-untyped-def]
    """A DataFrame: name, created_at, versions, latest, file_count, total_bytes, updated_at."""
    return session.df("SELECT * FROM datasets ORDER BY name")


def load_manifest(ws: Workspace, version: DatasetVersion) -> Manifest:
    data = ws.objects.read_bytes(version.manifest_oid)
    return Manifest.from_bytes(data, f"manifest of {version.ref}")


def add(ws: Workspace, name: str, path: str | os.PathLike[str], message: str = "",
        producer_run_id: str | None = None, metadata: dict[str, Any] | None = None,
        progress: bool = True, workers: int | None = None) -> AddResult:
    """Snapshot ``path`` (a folder or one file) as the next version of dataset ``name``."""
    check_name(name)
    _check_message(message)
    _metadata_json(metadata)  # refuse bad metadata before hashing anything
    cache = StatCache(ws.root / "cache" / "statcache.sqlite")
    try:
        manifest, stats = snapshot(ws.objects, path, cache, workers=workers, progress=progress,
                                   skip=ws.root)
    finally:
        cache.close()
    try:
        version = commit(ws, name, manifest, message=message, producer_run_id=producer_run_id,
                         metadata=metadata)
    except ObjectNotFound:
        # the stat cache named an object that gc has deleted since: hash everything afresh
        manifest, stats = snapshot(ws.objects, path, None, workers=workers, progress=progress,
                                   skip=ws.root)
        version = commit(ws, name, manifest, message=message, producer_run_id=producer_run_id,
                         metadata=metadata)
    return AddResult(version, stats)


def _metadata_json(metadata: object) -> str:
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return json.dumps(metadata or {}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"metadata must be plain JSON (strings, numbers, lists, dicts): {e}") from None


def _check_message(message: object) -> str:
    if not isinstance(message, str):
        raise InvalidInput(f"the message must be a string, got {type(message).__name__}")
    return message


def commit(ws: Workspace, name: str, manifest: Manifest, message: str = "",
           producer_run_id: str | None = None, metadata: dict[str, Any] | None = None,
           parent: str | None = None, session: CatalogSession | None = None) -> DatasetVersion:
    """Commit a manifest whose objects are already stored (also used by cleaning and labelling).

    ``parent`` defaults to the latest version at commit time. A manifest naming an object that
    is not stored is refused; the check runs under the catalog lock, which ``gc`` also holds, so
    no object can vanish between the check and the commit. Identical content to the latest
    version returns it unchanged (``created=False``).
    """
    check_name(name)
    _check_message(message)
    meta = _metadata_json(metadata)
    manifest_oid = ws.objects.put_bytes(manifest.to_bytes()).oid
    if session is None:
        with ws.catalog.session(write=True) as own:
            return _commit_rows(ws, own, name, manifest, manifest_oid, message, producer_run_id, meta, parent)
    return _commit_rows(ws, session, name, manifest, manifest_oid, message, producer_run_id, meta, parent)


def _commit_rows(ws: Workspace, session: CatalogSession, name: str, manifest: Manifest, manifest_oid: str,
                 message: str, producer_run_id: str | None, meta: str, parent: str | None) -> DatasetVersion:
    if not session.writable:
        raise InvalidInput(f"the workspace {ws.root} is read-only; dataset versions cannot be added")
    missing = _missing_objects(ws, session, name, manifest)
    if missing:
        raise ObjectNotFound(f"the manifest for {name!r} refers to {len(missing)} objects that are not "
                             f"stored (first: {missing[0]}); add the files again")
    with session.transaction():
        latest = _select(session, "name = ? AND number = (SELECT max(number) FROM dataset_version_rows "
                         "WHERE name = ?)", [name, name])
        if latest and latest[0].manifest_oid == manifest_oid:
            return replace(latest[0], created=False)
        if parent is not None:
            parent = resolve(session, name, parent).version
        elif latest:
            parent = latest[0].version
        number = latest[0].number + 1 if latest else 1
        now = time.time()
        if not latest:
            session.execute("INSERT INTO dataset_rows VALUES (?, ?) ON CONFLICT DO NOTHING", [name, now])
        version = DatasetVersion(name, f"v{number}", number, manifest_oid, parent, message, len(manifest),
                                 manifest.total_bytes, now, producer_run_id, json.loads(meta))
        session.execute(f"INSERT INTO dataset_version_rows ({', '.join(VERSION_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(VERSION_COLUMNS))})",
                        [getattr(version, c) if c != "metadata" else meta for c in VERSION_COLUMNS])
        _insert_files(session, manifest_oid, manifest)
        _write_record(ws, version)
    return version


# Above this many objects, asking the catalog which ones the latest version already holds is
# cheaper than a stat per object.
_KNOWN_QUERY_FROM = 256


def _missing_objects(ws: Workspace, session: CatalogSession, name: str, manifest: Manifest) -> list[str]:
    """The manifest's objects that are not in the store (run under the catalog lock).

    Objects the latest version of ``name`` already references are not looked at: gc never
    deletes a referenced object and cannot run while we hold the lock, so a re-add that
    changed 1% of the files stats only those, not every object of the dataset.
    """
    oids = manifest.oids()
    if len(oids) >= _KNOWN_QUERY_FROM:
        oids -= {r[0] for r in session.execute(
            "SELECT f.oid FROM dataset_file_rows f JOIN dataset_version_rows v USING (manifest_oid) "
            "WHERE v.name = ? AND v.number = (SELECT max(number) FROM dataset_version_rows WHERE name = ?)",
            [name, name])}
    ws.objects.packs.refresh()
    return [o for o in oids if not ws.objects.has(o)]


_INSERT_FILES = """
INSERT INTO dataset_file_rows (manifest_oid, path, oid, size, executable, symlink)
SELECT ?, key, value->>'oid', CAST(value->>'size' AS BIGINT),
       coalesce(CAST(value->>'exec' AS BOOLEAN), false), value->>'symlink'
FROM json_each(CAST(? AS JSON)->'files')
"""


def _insert_files(session: CatalogSession, manifest_oid: str, manifest: Manifest) -> None:
    """Index a manifest's entries once per distinct manifest.

    DuckDB parses the manifest JSON itself: one statement, no per-row Python, and no Arrow
    conversion (which would import pandas, a second of start-up for a command-line add).
    """
    have = session.execute("SELECT count(*) FROM dataset_file_rows WHERE manifest_oid = ?", [manifest_oid])
    if not have[0][0] and len(manifest):
        session.execute(_INSERT_FILES, [manifest_oid, manifest.to_bytes().decode("ascii")])


def records_dir(ws: Workspace) -> Path:
    return ws.root / "datasets"


def _write_record(ws: Workspace, version: DatasetVersion) -> None:
    """The version as a small JSON file: the catalog can be rebuilt from these and the objects.

    Written inside the catalog transaction, before COMMIT: a failed write rolls the row back.
    """
    folder = records_dir(ws) / version.name
    folder.mkdir(parents=True, exist_ok=True)
    data = dict(version.to_json())
    data.pop("created", None)
    final = folder / f"{version.version}.json"
    tmp = folder / f".{version.version}.json.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(data, sort_keys=True, indent=1))
    os.replace(tmp, final)


def load_records(ws: Workspace) -> list[DatasetVersion]:
    """Every version record on disk (for a catalog rebuild)."""
    out = []
    for f in sorted(records_dir(ws).glob("*/v*.json")):
        data = json.loads(f.read_text())
        out.append(DatasetVersion(**data))
    return out


def reindex(ws: Workspace, session: CatalogSession) -> int:
    """Insert versions found in the records but missing from the catalog; returns how many."""
    known = {(r[0], r[1]) for r in session.execute("SELECT name, number FROM dataset_version_rows")}
    added = 0
    for v in load_records(ws):
        if (v.name, v.number) in known:
            continue
        manifest = load_manifest(ws, v)
        with session.transaction():
            session.execute("INSERT INTO dataset_rows VALUES (?, ?) ON CONFLICT DO NOTHING", [v.name, v.created_at])
            session.execute(f"INSERT INTO dataset_version_rows ({', '.join(VERSION_COLUMNS)}) "
                            f"VALUES ({', '.join('?' * len(VERSION_COLUMNS))})",
                            [getattr(v, c) if c != "metadata" else json.dumps(v.metadata) for c in VERSION_COLUMNS])
            _insert_files(session, v.manifest_oid, manifest)
        added += 1
    return added
