"""Dataset version records: the commit point of a version, folded into the catalog afterwards.

Why: committing a version inside the catalog meant importing DuckDB, opening the catalog and
indexing every file of the manifest within ``data add``, which was half of a re-add's time
when 1% of the files had changed. A version is committed instead by writing its record,
``datasets/NAME/vN.json``, durably and under ``datasets/.lock`` (which numbers versions, so two
processes adding one name get v2 and v3), plus an empty marker in ``datasets/.pending/``. The
next catalog session that writes folds the marked records into the catalog's rows, as run
journals are folded, so every reader sees the version as soon as ``add`` returns. The records
and the objects are the truth; ``doctor --rebuild`` folds all of them again.

Lock order, so that nothing deadlocks: a process holding the catalog lock may take this one
(``data gc`` does, so that no version is committed while it deletes); a process holding this
one never waits for the catalog.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CatalogBusy, ObjectCorrupt, ObjectNotFound
from .lock import file_lock
from .objects import ObjectStore
from .packs import fsync_path

if TYPE_CHECKING:  # the session type only: importing the catalog module would import DuckDB
    from .index import CatalogSession

RECORD_COLUMNS = ["name", "version", "number", "manifest_oid", "parent", "message", "file_count",
                  "total_bytes", "created_at", "producer_run_id", "metadata"]
_RECORD_FILE = re.compile(r"^v([1-9][0-9]{0,8})\.json$")

_INSERT_FILES = """
INSERT INTO dataset_file_rows (manifest_oid, path, oid, size, executable, symlink)
SELECT ?, key, value->>'oid', CAST(value->>'size' AS BIGINT),
       coalesce(CAST(value->>'exec' AS BOOLEAN), false), value->>'symlink'
FROM json_each(CAST(? AS JSON)->'files')
"""


class DatasetRecords:
    """``datasets/``: one JSON record per version, and markers for those the catalog lacks."""

    def __init__(self, root: Path, objects: ObjectStore, lock_timeout: float) -> None:
        self.root = root
        self.pending_dir = root / ".pending"
        self.objects = objects
        self.lock_timeout = lock_timeout

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive: held while a version is numbered, checked and written (and by gc)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with file_lock(self.root / ".lock", exclusive=True, timeout=self.lock_timeout):
                yield
        except CatalogBusy as e:
            raise CatalogBusy(e.message.replace("the catalog", "the dataset versions")) from None

    def numbers(self, name: str) -> list[int]:
        """The version numbers recorded for ``name``, ascending."""
        try:
            with os.scandir(self.root / name) as entries:
                found = [_RECORD_FILE.match(e.name) for e in entries]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(m.group(1)) for m in found if m)

    def read(self, name: str, number: int) -> dict[str, Any] | None:
        try:
            data = json.loads((self.root / name / f"v{number}.json").read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise ObjectCorrupt(f"the record of {name}@v{number} is not valid JSON ({e})") from None
        return {c: data.get(c) for c in RECORD_COLUMNS}

    def write(self, record: dict[str, Any]) -> None:
        """Commit one version (call under :meth:`lock`): the record, durably, then its marker.

        The record is written to a temp file, synced and renamed, and its folder synced; only
        then is the marker made. A failure removes what this call wrote, so a version is either
        committed whole or not at all.
        """
        name, number = record["name"], record["number"]
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"v{number}.json"
        tmp = folder / f".v{number}.json.tmp-{os.getpid()}"
        data = json.dumps({c: record[c] for c in RECORD_COLUMNS}, sort_keys=True, indent=1).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:
            fsync_path(folder)
            self.pending_dir.mkdir(exist_ok=True)
            os.close(os.open(self.pending_dir / f"{name}@v{number}", os.O_WRONLY | os.O_CREAT, 0o644))
            fsync_path(self.pending_dir)
        except BaseException:
            final.unlink(missing_ok=True)
            raise

    def load_all(self) -> Iterator[dict[str, Any]]:
        """Every record on disk, in name and number order."""
        try:
            with os.scandir(self.root) as entries:
                names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())
        except FileNotFoundError:
            return
        for name in names:
            for number in self.numbers(name):
                record = self.read(name, number)
                if record is not None:
                    yield record

    def fold(self, session: CatalogSession) -> int:
        """Fold marked records into the catalog; how many versions were added.

        One folder listing when nothing is pending, so every writable session can afford it.
        """
        if not session.writable:
            return 0
        try:
            with os.scandir(self.pending_dir) as entries:
                markers = sorted(e.name for e in entries if not e.name.startswith("."))
        except FileNotFoundError:
            return 0
        if not markers:
            return 0
        records, done = [], []
        for marker in markers:
            name, _, version = marker.rpartition("@")
            m = _RECORD_FILE.match(f"{version}.json")
            # a marker names a folder beside it: never one elsewhere
            sound = m and name and "/" not in name and not name.startswith(".")
            record = self.read(name, int(m.group(1))) if sound else None
            if record is None:  # the record is gone (its add was undone): nothing to fold
                done.append(marker)
                continue
            records.append((marker, record))
        added = 0
        with session.transaction():
            for marker, record in records:
                try:
                    added += self.insert(session, record)
                except (ObjectNotFound, ObjectCorrupt) as e:
                    # the version stays pending and is reported; the rest are folded
                    warnings.warn(f"dataset version {record['name']}@{record['version']} cannot be "
                                  f"indexed yet: {e}", stacklevel=2)
                    continue
                done.append(marker)
        for marker in done:
            try:
                os.unlink(self.pending_dir / marker)
            except FileNotFoundError:
                pass
        return added

    def insert(self, session: CatalogSession, record: dict[str, Any]) -> int:
        """Index one record (1) unless the catalog has it already (0)."""
        if session.execute("SELECT count(*) FROM dataset_version_rows WHERE name = ? AND number = ?",
                           [record["name"], record["number"]])[0][0]:
            return 0
        manifest = self.objects.read_bytes(record["manifest_oid"])
        session.execute("INSERT INTO dataset_rows VALUES (?, ?) ON CONFLICT DO NOTHING",
                        [record["name"], record["created_at"]])
        values = [json.dumps(record["metadata"] or {}, sort_keys=True) if c == "metadata" else record[c]
                  for c in RECORD_COLUMNS]
        session.execute(f"INSERT INTO dataset_version_rows ({', '.join(RECORD_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})", values)
        have = session.execute("SELECT count(*) FROM dataset_file_rows WHERE manifest_oid = ?",
                               [record["manifest_oid"]])
        if not have[0][0] and record["file_count"]:
            # DuckDB parses the manifest itself: one statement, no per-row Python
            session.execute(_INSERT_FILES, [record["manifest_oid"], manifest.decode("ascii")])
        return 1

