"""Dataset versions: commit a manifest as ``NAME`` ``vN``, list and resolve versions.

A version is committed by writing its record (``datasets/NAME/vN.json``) under the records'
exclusive lock: the number is taken there (so two processes adding the same name get v2 and
v3, never two v2s), and content identical to the latest version returns that version instead
of making a new one. The catalog folds new records in on its next session (see
:mod:`..store.dataset_records`), so an add never imports nor opens DuckDB.
"""

from __future__ import annotations

import gc
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFound, InvalidInput, ObjectCorrupt, ObjectNotFound
from ..store import CatalogSession, Workspace
from ..store.dataset_records import RECORD_COLUMNS
from .manifest import Manifest
from .snapshot import SnapshotStats, snapshot
from .statcache import StatCache

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION = re.compile(r"^v([1-9][0-9]{0,8})$")
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters"



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
    d = dict(zip(RECORD_COLUMNS, row, strict=True))
    meta = d.pop("metadata")
    return DatasetVersion(**d, metadata=json.loads(meta) if meta else {}, created=created)


def _select(session: CatalogSession, where: str, args: list[Any]) -> list[DatasetVersion]:
    cols = ", ".join(RECORD_COLUMNS)
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


def resolve_recorded(ws: Workspace, name: str, version: str = "latest") -> DatasetVersion:
    """:func:`resolve` from the version records, without the catalog.

    Checkout and ``dlb.dataset`` need one version's manifest id, which its record holds: not
    importing DuckDB, opening the catalog and folding in the latest adds saves a checkout
    0.3-0.4 s. A name without records (a catalog restored from elsewhere) asks the catalog.
    """
    check_name(name)
    numbers = ws.dataset_records.numbers(name)
    if not numbers:
        with ws.catalog.session(write=True) as session:
            return resolve(session, name, version)
    number = _recorded_number(name, version, numbers)
    record = ws.dataset_records.read(name, number)
    if record is None:  # removed since the folder was listed
        raise DatasetNotFound(f"dataset {name!r} has no version v{number}")
    return _from_record(record)


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
        progress: bool = True, workers: int | None = None, link: bool = False) -> AddResult:
    """Snapshot ``path`` (a folder or one file) as the next version of dataset ``name``.

    With ``link`` new objects are hard links to the files instead of copies (no copy, no
    space) and the files become read-only, as with DVC's hardlink cache.
    """
    check_name(name)
    _check_message(message)
    _metadata_json(metadata)  # refuse bad metadata before hashing anything
    with _no_gc_passes():
        return _add(ws, name, path, message, producer_run_id, metadata, progress, workers, link)


@contextmanager
def _no_gc_passes() -> Iterator[None]:
    """Cyclic garbage collection off while an add runs.

    An add of 20,000 files holds ~100,000 small objects at once (scan entries, the stat cache,
    the manifest); each full collection walks them all, which cost a re-add of 1% of them
    50-100 ms of its ~300. Nothing an add allocates forms reference cycles: reference counting
    frees it all, and the collector runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _add(ws: Workspace, name: str, path: str | os.PathLike[str], message: str,
         producer_run_id: str | None, metadata: dict[str, Any] | None, progress: bool,
         workers: int | None, link: bool) -> AddResult:
    cache = StatCache(ws.root / "cache" / "stat")
    try:
        manifest, stats = snapshot(ws.objects, path, cache, workers=workers, progress=progress,
                                   skip=ws.root, link=link)
    finally:
        cache.close()
    try:
        version = commit(ws, name, manifest, message=message, producer_run_id=producer_run_id,
                         metadata=metadata)
    except ObjectNotFound:
        # the stat cache named an object that gc has deleted since: hash everything afresh
        manifest, stats = snapshot(ws.objects, path, None, workers=workers, progress=progress,
                                   skip=ws.root, link=link)
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

    The version is committed by writing its record (:mod:`..store.dataset_records`), without
    opening the catalog: the next catalog session folds it in, and ``session``, when given, is
    brought up to date at once. ``parent`` defaults to the latest version at commit time. A
    manifest naming an object that is not stored is refused; the check runs under the records
    lock, which ``gc`` also holds, so no object can vanish between the check and the commit.
    Identical content to the latest version returns it unchanged (``created=False``).
    """
    check_name(name)
    _check_message(message)
    meta = _metadata_json(metadata)
    if not ws.writable():
        raise InvalidInput(f"the workspace {ws.root} is read-only; dataset versions cannot be added")
    manifest_oid = ws.objects.put_bytes(manifest.to_bytes()).oid
    records = ws.dataset_records
    with records.lock():
        numbers = records.numbers(name)
        latest = records.read(name, numbers[-1]) if numbers else None
        if latest and latest["manifest_oid"] == manifest_oid:
            version = _from_record(latest, created=False)
        else:
            missing = _missing_objects(ws, latest, manifest)
            if missing:
                raise ObjectNotFound(f"the manifest for {name!r} refers to {len(missing)} objects that are "
                                     f"not stored (first: {missing[0]}); add the files again")
            if parent is not None:
                parent = f"v{_recorded_number(name, parent, numbers)}"
            elif latest:
                parent = latest["version"]
            number = latest["number"] + 1 if latest else 1
            version = DatasetVersion(name, f"v{number}", number, manifest_oid, parent, message, len(manifest),
                                     manifest.total_bytes, time.time(), producer_run_id, json.loads(meta))
            records.write(_to_record(version))
    if session is not None:
        records.fold(session)
    return version


def _to_record(version: DatasetVersion) -> dict[str, Any]:
    data = version.to_json()
    data.pop("created", None)
    return data


def _from_record(record: dict[str, Any], created: bool = True) -> DatasetVersion:
    return DatasetVersion(**{c: record[c] for c in RECORD_COLUMNS if c != "metadata"},
                          metadata=record.get("metadata") or {}, created=created)


def _recorded_number(name: str, version: str, numbers: list[int]) -> int:
    """The number of ``version`` ('vN' or 'latest') among a name's recorded ``numbers``, or
    the error :func:`resolve` gives."""
    version = check_version(version)
    if version == "latest" and numbers:
        return numbers[-1]
    if version != "latest" and int(version[1:]) in numbers:
        return int(version[1:])
    if not numbers:
        raise DatasetNotFound(f"no dataset named {name!r}; `dlbench data add {name} PATH` creates it")
    shown = ", ".join(f"v{n}" for n in numbers[-10:])
    raise DatasetNotFound(f"dataset {name!r} has no version {version} (it has {shown})")


def _missing_objects(ws: Workspace, latest: dict[str, Any] | None, manifest: Manifest) -> list[str]:
    """The manifest's objects that are not in the store (run under the records lock).

    Packed objects are found by one lookup each in the pack index. Of the others (object
    files), those the latest version already references are not looked at: gc never deletes
    a referenced object and cannot run while we hold the lock, so a re-add that changed 1% of
    the files stats only those, not every object file of the dataset.
    """
    packs = ws.objects.packs
    packs.refresh()
    oids = packs.unpacked(manifest.oids())
    if latest is not None and len(oids) >= _KNOWN_FROM:
        try:
            doc = json.loads(ws.objects.read_bytes(latest["manifest_oid"]))
            oids -= {e["oid"] for e in doc["files"].values() if "oid" in e}
        except (ObjectNotFound, ObjectCorrupt, ValueError, KeyError, TypeError):
            pass  # look every object up instead
    return [o for o in oids if not ws.objects.has(o)]


# Above this many object files, reading the latest manifest is cheaper than a stat per file.
_KNOWN_FROM = 256


def records_dir(ws: Workspace) -> Path:
    return ws.dataset_records.root


def reindex(ws: Workspace, session: CatalogSession) -> int:
    """Insert versions found in the records but missing from the catalog; returns how many."""
    added = 0
    for record in ws.dataset_records.load_all():
        with session.transaction():
            added += ws.dataset_records.insert(session, record)
    return added
