"""Cleansing: a cleaned copy of a dataset folder plus an exact record of what was removed.

``clean`` never touches its input: it writes a new folder (built under a temporary name and
renamed into place, so a crash leaves no half-cleaned folder behind) that becomes the next
dataset version, and returns a :class:`CleanResult` whose ``message`` and ``to_dict()`` are
meant for that version's message and metadata, with the old version as its parent.

Reasons use the same names as the findings of :func:`jupyter_dlbench.data.checks.check`, so
what ``check`` reported and what ``clean`` removed can be compared line by line.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from . import _tables as tables
from ._files import resolve, scan_files

if TYPE_CHECKING:
    from ..store import Workspace
    from .versions import DatasetVersion

DROP_KINDS = ("duplicates", "corrupt", "null_rows")
DEFAULT_DROP = DROP_KINDS
MAX_LISTED_ROWS = 1000


@dataclass(frozen=True)
class RemovedRows:
    file: str
    reason: str  # malformed_rows | type_mismatch | null_rows | duplicate_rows
    count: int
    # first MAX_LISTED_ROWS: 1-based numbers of the parsed data rows (header excluded), or for
    # malformed_rows the line numbers in the file (those lines never became rows)
    rows: tuple[int, ...]


@dataclass
class CleanResult:
    """What ``clean`` did: every removed file with its reason, and removed rows per table."""

    source: str
    out_dir: str
    drop: tuple[str, ...]
    removed_files: list[dict[str, str]] = field(default_factory=list)
    removed_rows: list[RemovedRows] = field(default_factory=list)
    files_before: int = 0
    files_after: int = 0
    rows_before: dict[str, int] = field(default_factory=dict)
    rows_after: dict[str, int] = field(default_factory=dict)
    parent: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.removed_files or self.removed_rows)

    def files_removed_for(self, reason: str) -> list[str]:
        return [f["path"] for f in self.removed_files if f["reason"] == reason]

    def rows_removed(self, file: str, reason: str | None = None) -> int:
        return sum(r.count for r in self.removed_rows
                   if r.file == file and (reason is None or r.reason == reason))

    @property
    def message(self) -> str:
        """One line for the new version's message."""
        if not self.changed:
            return "clean: nothing to remove"
        parts = []
        if self.removed_files:
            why = _tally(f["reason"] for f in self.removed_files)
            parts.append(f"{len(self.removed_files)} files ({why})")
        if self.removed_rows:
            per_file = {}
            for r in self.removed_rows:
                per_file.setdefault(r.file, []).append(f"{r.count} {r.reason}")
            total = sum(r.count for r in self.removed_rows)
            parts.append(f"{total} rows (" + "; ".join(
                f"{f}: {', '.join(v)}" for f, v in per_file.items()) + ")")
        return "clean: removed " + " and ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"operation": "clean", "source": self.source, "parent": self.parent,
                "drop": list(self.drop), "files_before": self.files_before,
                "files_after": self.files_after, "removed_files": list(self.removed_files),
                "removed_rows": [{"file": r.file, "reason": r.reason, "count": r.count,
                                  "rows": list(r.rows), "rows_listed": len(r.rows)}
                                 for r in self.removed_rows],
                "rows_before": dict(self.rows_before), "rows_after": dict(self.rows_after),
                "message": self.message}


def _tally(reasons: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for r in reasons:
        counts[r] = counts.get(r, 0) + 1
    return ", ".join(f"{n} {r}" for r, n in counts.items())


def _check_drop(drop: Iterable[str]) -> tuple[str, ...]:
    if isinstance(drop, str):
        drop = [drop]
    chosen = tuple(dict.fromkeys(drop))
    unknown = [d for d in chosen if d not in DROP_KINDS]
    if unknown:
        raise InvalidInput(f"cannot drop {unknown}: choose from {list(DROP_KINDS)}")
    return chosen


def _check_out_dir(root: Path, out_dir: Path) -> None:
    src, dst = root.resolve(), out_dir.resolve()
    if dst == src or src in dst.parents or dst in src.parents:
        raise InvalidInput(f"out_dir {str(out_dir)!r} must be outside the dataset folder "
                           f"{str(root)!r} (and not contain it)")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InvalidInput(f"out_dir {str(out_dir)!r} already exists and is not an empty folder; "
                           "give a new path")


def clean(path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
          drop: Iterable[str] = DEFAULT_DROP,
          manifest: Mapping[str, Mapping[str, Any]] | None = None,
          parent: str | None = None) -> CleanResult:
    """Write a cleaned copy of a dataset folder to ``out_dir`` and say exactly what was removed.

    Parameters
    ----------
    path
        The dataset folder (e.g. a checked-out version); it is only read.
    out_dir
        Where the cleaned copy goes: a new path or an empty folder, outside ``path``.
    drop
        ``"corrupt"``: empty files, images that do not decode, tables DuckDB cannot read, CSV
        lines that do not parse, and table rows with a value that fails its column's inferred
        type. ``"duplicates"``: files
        whose bytes repeat an earlier path's (the first path in sorted order is kept) and rows
        that repeat an earlier row. ``"null_rows"``: table rows with any null value. Applied in
        that order: a row is counted under the first reason that removes it.
    manifest
        The version's manifest, when known (duplicate files found from its oids).
    parent
        The version being cleaned, recorded in the result for the new version's lineage.
    """
    chosen = _check_drop(drop)
    root, files = resolve(path, manifest)
    out = Path(out_dir)
    _check_out_dir(root, out)
    result = CleanResult(str(root), str(out), chosen, files_before=len(files), parent=parent)

    removed: dict[str, str] = {}
    scan = scan_files(root, files) if chosen else {"zero": [], "corrupt": [], "duplicates": []}
    if "corrupt" in chosen:
        removed.update((p, "zero_byte_file") for p in scan["zero"])
        removed.update((p, "corrupt_image") for p, _ in scan["corrupt"])
    if "duplicates" in chosen:
        for group in scan["duplicates"]:
            for p in group[1:]:
                removed.setdefault(p, "duplicate_content")

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        for f in files:
            if f.path in removed:
                continue
            dest = staging / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if tables.is_table(f.path) and chosen:
                if not _clean_table(root / f.path, f.path, dest, chosen, result):
                    removed[f.path] = "unreadable_table"
                    continue
            else:
                shutil.copyfile(root / f.path, dest)
        if out.exists():
            out.rmdir()  # checked empty above
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.removed_files = [{"path": p, "reason": r} for p, r in sorted(removed.items())]
    result.files_after = len(files) - len(removed)
    return result


def _clean_table(src: Path, rel: str, dest: Path, chosen: tuple[str, ...],
                 result: CleanResult) -> bool:
    """Copy one table without its bad rows; False when the table cannot be read at all (and
    ``corrupt`` is being dropped: otherwise it is copied unchanged)."""
    con = tables.connect()
    try:
        try:
            t = tables.load(con, src, tables.table_format(rel) or "csv")
        except tables.Unreadable:
            if "corrupt" in chosen:
                return False
            shutil.copyfile(src, dest)
            return True
        malformed = RemovedRows(rel, "malformed_rows", len(t.malformed),
                                tuple(n for n, _ in t.malformed[:MAX_LISTED_ROWS]))
        if t.malformed and "corrupt" in chosen:
            result.removed_rows.append(malformed)
        keep = "TRUE"
        steps = [("corrupt", "type_mismatch"), ("null_rows", "null_rows")]
        for kind, reason in steps:
            if kind in chosen:
                pred = f"{keep} AND {t.where(kind)}"
                _record(t, rel, reason, f"SELECT rowid FROM t WHERE {pred}", result)
                keep = f"{keep} AND NOT {t.where(kind)}"
        dedupe = "duplicates" in chosen and bool(t.columns)
        if dedupe:
            _record(t, rel, "duplicate_rows",
                    f"SELECT rowid FROM t WHERE {keep} QUALIFY row_number() OVER "
                    f"(PARTITION BY {t.all_columns} ORDER BY rowid) > 1", result)
        removed = result.rows_removed(rel)
        if removed and t.malformed and "corrupt" not in chosen:
            # rewriting the table cannot keep lines that never parsed: say so
            result.removed_rows.append(malformed)
            removed = result.rows_removed(rel)
        result.rows_before[rel] = t.rows + len(t.malformed)
        result.rows_after[rel] = t.rows + len(t.malformed) - removed
        if removed:
            tables.copy_to(t, keep, dest, dedupe)
        else:  # unchanged tables keep their exact bytes (and so their object id)
            shutil.copyfile(src, dest)
        return True
    finally:
        con.close()


def _record(t: tables.Table, rel: str, reason: str, rowids_sql: str, result: CleanResult) -> None:
    count = int(t.con.execute(f"SELECT count(*) FROM ({rowids_sql})").fetchone()[0])
    if count:
        rows = t.con.execute(f"SELECT rowid + 1 FROM ({rowids_sql}) ORDER BY 1 "
                             f"LIMIT {MAX_LISTED_ROWS}").fetchall()
        result.removed_rows.append(RemovedRows(rel, reason, count, tuple(int(r) for (r,) in rows)))


def clean_version(ws: Workspace, ds: Any, drop: Iterable[str] = DEFAULT_DROP,
                  message: str | None = None) -> tuple[DatasetVersion, CleanResult]:
    """Clean a materialised dataset version (``dlb.dataset(...)``'s object: ``name``,
    ``version``, ``path``, ``manifest``) and commit the result as the dataset's next version.

    The new version's parent is ``ds``'s version (even when newer versions exist), its message
    says what was removed unless ``message`` is given, and its metadata is the full record.
    When nothing is removed no version is made: ``ds``'s own comes back with ``created=False``.
    The cleaned copy is staged under the workspace's ``tmp/`` and removed once its objects are
    stored.
    """
    from .snapshot import snapshot
    from .versions import commit

    scratch = ws.root / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix="clean-", dir=scratch))
    try:
        result = clean(ds.path, holder / "data", drop=drop, manifest=ds.manifest,
                       parent=ds.version)
        if not result.changed:  # nothing removed: no new version, whatever the latest is
            return dataclasses.replace(ds.info, created=False), result
        manifest, _ = snapshot(ws.objects, holder / "data", None, progress=False)
        version = commit(ws, ds.name, manifest, message=message or result.message,
                         metadata=result.to_dict(), parent=ds.version)
    finally:
        shutil.rmtree(holder, ignore_errors=True)
    return version, result


__all__ = ["CleanResult", "RemovedRows", "clean", "clean_version", "DROP_KINDS"]
