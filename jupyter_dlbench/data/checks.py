"""Dataset quality checks: what is wrong with a folder of data before a model learns it.

``check(path)`` looks at a materialised dataset folder (optionally with its manifest, so
content hashes come for free) and returns a :class:`QualityReport`. Tabular files (CSV/TSV,
Parquet, JSON lines) are profiled by DuckDB SQL in a few passes, never row by row in Python,
so a gigabyte of CSV takes seconds; file collections are checked from sizes, magic bytes and
Pillow's cheap ``verify()``.

DuckDB is used here on an in-memory connection to read *user* files; the catalog is only ever
opened through ``store/index.py``.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from . import _tables as tables
from ._files import FileEntry, extension, resolve, scan_files

MAX_EXAMPLES = 5
MAX_SHOWN = 200  # findings rendered as table rows; to_dict()/to_json() always have them all
SEVERITIES = ("error", "warning", "info")
LABEL_TABLES = ("labels.csv", "labels.parquet")  # a version's labels (see widgets/labelling.py)

__all__ = ["ColumnProfile", "FileEntry", "Issue", "QualityReport", "TableProfile", "check",
           "resolve"]


@dataclass(frozen=True)
class Issue:
    """One finding. ``count`` is how many rows/files/values are affected; ``examples`` a few
    of them, enough to go and look."""

    severity: str
    kind: str
    message: str
    count: int
    file: str | None = None
    column: str | None = None
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["examples"] = list(self.examples)
        return d


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str
    inferred_type: str
    nulls: int
    null_rate: float
    constant: bool
    type_errors: int = 0


@dataclass(frozen=True)
class TableProfile:
    file: str
    rows: int
    columns: tuple[ColumnProfile, ...]
    duplicate_rows: int
    rows_with_nulls: int
    label_column: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["columns"] = [asdict(c) for c in self.columns]
        return d


@dataclass(frozen=True, repr=False)
class QualityReport:
    """Everything ``check`` found. ``ok`` is False when any finding has severity ``error``
    (corrupt or unreadable content, values that fail their column's type); warnings such as
    duplicates or nulls are reported but do not fail it."""

    root: str
    files: int
    total_bytes: int
    tables: tuple[TableProfile, ...]
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def issues_of(self, kind: str) -> list[Issue]:
        return [i for i in self.issues if i.kind == kind]

    def table(self, file: str) -> TableProfile:
        for t in self.tables:
            if t.file == file:
                return t
        raise InvalidInput(f"no table {file!r} in this report; tables: {[t.file for t in self.tables]}")

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "ok": self.ok, "files": self.files,
                "total_bytes": self.total_bytes,
                "tables": [t.to_dict() for t in self.tables],
                "issues": [i.to_dict() for i in self.issues]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __repr__(self) -> str:
        return f"<QualityReport {self.summary()} in {self.root!r}>"

    def summary(self) -> str:
        counts = {s: sum(1 for i in self.issues if i.severity == s) for s in SEVERITIES}
        state = "ok" if self.ok else "NOT ok"
        return (f"{state}: {self.files} files, {len(self.tables)} tables, "
                f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes")

    def _repr_html_(self) -> str:
        e = html.escape
        parts = [f"<div class='dlbench-quality'><p><b>{e(self.summary())}</b> "
                 f"<code>{e(self.root)}</code></p>"]
        if self.issues:
            parts.append("<table><thead><tr><th>severity</th><th>kind</th><th>file</th>"
                         "<th>column</th><th>count</th><th>details</th></tr></thead><tbody>")
            for i in self.issues[:MAX_SHOWN]:
                details = e(i.message)
                if i.examples:
                    details += "<br><small>e.g. " + ", ".join(
                        f"<code>{e(x)}</code>" for x in i.examples) + "</small>"
                parts.append(f"<tr><td>{e(i.severity)}</td><td>{e(i.kind)}</td>"
                             f"<td>{e(i.file or '')}</td><td>{e(i.column or '')}</td>"
                             f"<td>{i.count}</td><td>{details}</td></tr>")
            parts.append("</tbody></table>")
            if len(self.issues) > MAX_SHOWN:
                parts.append(f"<p>… and {len(self.issues) - MAX_SHOWN} more findings "
                             "(<code>report.to_dict()</code> has them all)</p>")
        for t in self.tables:
            parts.append(f"<details><summary><code>{e(t.file)}</code>: {t.rows} rows, "
                         f"{len(t.columns)} columns, {t.duplicate_rows} duplicate rows</summary>"
                         "<table><thead><tr><th>column</th><th>type</th><th>inferred</th>"
                         "<th>null rate</th><th>type errors</th></tr></thead><tbody>")
            for c in t.columns:
                parts.append(f"<tr><td>{e(c.name)}</td><td>{e(c.type)}</td>"
                             f"<td>{e(c.inferred_type)}</td><td>{c.null_rate:.1%}</td>"
                             f"<td>{c.type_errors}</td></tr>")
            parts.append("</tbody></table>")
            if t.label_counts:
                parts.append(f"<p>labels in <code>{e(t.label_column or '')}</code>: " + ", ".join(
                    f"{e(k)}: {v}" for k, v in t.label_counts.items()) + "</p>")
            parts.append("</details>")
        parts.append("</div>")
        return "".join(parts)

    def __str__(self) -> str:
        from io import StringIO

        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        buf = StringIO()
        console = Console(file=buf, width=120, markup=False, color_system=None)
        console.print(Text(f"{self.summary()} ({self.root})"))
        if self.issues:
            table = Table(show_lines=False)
            for c in ("severity", "kind", "file", "column", "count", "details"):
                table.add_column(c, overflow="fold")
            for i in self.issues[:MAX_SHOWN]:
                details = i.message + (f" (e.g. {', '.join(i.examples)})" if i.examples else "")
                table.add_row(*[Text(v) for v in (i.severity, i.kind, i.file or "", i.column or "",
                                                  str(i.count), details)])
            console.print(table)
            if len(self.issues) > MAX_SHOWN:
                console.print(Text(f"... and {len(self.issues) - MAX_SHOWN} more findings "
                                   "(--json lists them all)"))
        for t in self.tables:
            line = f"{t.file}: {t.rows} rows, " + ", ".join(
                f"{c.name} {c.inferred_type} ({c.null_rate:.0%} null)" for c in t.columns)
            if t.label_counts:
                line += f"; labels: {t.label_counts}"
            console.print(Text(line))
        return buf.getvalue().rstrip("\n")


# ---------------------------------------------------------------------------------------------
# Files


def file_issues(scan: Mapping[str, Any]) -> list[Issue]:
    issues = []
    if scan["zero"]:
        issues.append(Issue("error", "zero_byte_file", f"{len(scan['zero'])} files are empty",
                            len(scan["zero"]), examples=tuple(scan["zero"][:MAX_EXAMPLES])))
    for path, why in scan["corrupt"]:
        issues.append(Issue("error", "corrupt_image", f"the image does not decode ({why})", 1,
                            file=path))
    for path, detected in scan["mismatched"]:
        issues.append(Issue("warning", "extension_mismatch",
                            f"the extension says {extension(path) or '(none)'} but the content "
                            f"is {detected}", 1, file=path, examples=(detected,)))
    for group in scan["duplicates"]:
        issues.append(Issue("warning", "duplicate_content",
                            f"{len(group) - 1} other paths hold the same bytes", len(group) - 1,
                            file=group[0], examples=tuple(group[1:1 + MAX_EXAMPLES])))
    return issues


# ---------------------------------------------------------------------------------------------
# Tables


def profile_table(full: Path, rel: str, label_column: str | None = None,
                  known_paths: set[str] | None = None) -> tuple[TableProfile | None, list[Issue]]:
    """Profile one tabular file; a file DuckDB cannot read is one ``unreadable_table`` error.

    The dataset's labels table (``labels.csv``/``labels.parquet`` at the top) is also checked
    against ``known_paths``, the files of the version, and its ``label`` column is profiled."""
    con = tables.connect()
    try:
        try:
            t = tables.load(con, full, tables.table_format(rel) or "csv")
        except tables.Unreadable as e:
            return None, [Issue("error", "unreadable_table", f"DuckDB cannot read it: {e}", 1,
                                file=rel)]
        issues = []
        if t.malformed:
            issues.append(Issue("error", "malformed_rows",
                                f"{len(t.malformed)} lines could not be parsed and were left out",
                                len(t.malformed), rel, examples=tuple(
                                    f"line {n}: {why}" for n, why in t.malformed[:MAX_EXAMPLES])))
        for c in t.columns:
            if c.type_errors:
                issues.append(Issue(
                    "error", "type_mismatch",
                    f"{c.type_errors} values are not {c.inferred} like the rest of the column",
                    c.type_errors, rel, c.name, tuple(t.failing_examples(c))))
            nulls = t.rows - c.nonnull
            if nulls:
                issues.append(Issue("warning", "null_values",
                                    f"{nulls} of {t.rows} values are null ({nulls / t.rows:.1%})",
                                    nulls, rel, c.name,
                                    tuple(t.row_examples(f"{c.sql} IS NULL"))))
            if c.constant:
                issues.append(Issue("warning", "constant_column",
                                    "every non-null value in the column is the same", t.rows,
                                    rel, c.name))
        duplicates = t.duplicate_rows()
        if duplicates:
            issues.append(Issue("warning", "duplicate_rows",
                                f"{duplicates} rows repeat an earlier row exactly", duplicates,
                                rel, examples=tuple(t.duplicate_examples())))
        if t.rows_with_nulls:
            issues.append(Issue("info", "null_rows",
                                f"{t.rows_with_nulls} rows have at least one null value",
                                t.rows_with_nulls, rel,
                                examples=tuple(t.row_examples(t.where("null_rows")))))
        names = {c.name for c in t.columns}
        if rel in LABEL_TABLES and "path" in names:
            issues.extend(_label_table_issues(t, rel, known_paths or set()))
            if label_column is None and "label" in names:
                label_column = "label"
        has_label = label_column is not None and label_column in names
        profile = TableProfile(
            rel, t.rows,
            tuple(ColumnProfile(c.name, c.type, c.inferred, t.rows - c.nonnull,
                                (t.rows - c.nonnull) / t.rows if t.rows else 0.0, c.constant,
                                c.type_errors) for c in t.columns),
            duplicates, t.rows_with_nulls, label_column if has_label else None,
            t.label_counts(label_column) if has_label and label_column else {})
        return profile, issues
    finally:
        con.close()


def _label_table_issues(t: tables.Table, rel: str, known_paths: set[str]) -> list[Issue]:
    issues = []
    path = t.column("path").sql
    listed = [str(p) for (p,) in t.con.execute(
        f"SELECT CAST({path} AS VARCHAR) AS p FROM t WHERE {path} IS NOT NULL GROUP BY p "
        "ORDER BY min(rowid)").fetchall()]
    unknown = [p for p in listed if p not in known_paths]
    if unknown:
        issues.append(Issue("warning", "unknown_label_path",
                            f"{len(unknown)} labelled paths are not files of this dataset",
                            len(unknown), rel, "path", tuple(unknown[:MAX_EXAMPLES])))
    if "label" in {c.name for c in t.columns}:
        label = t.column("label").sql
        conflicting = [str(p) for (p,) in t.con.execute(
            f"SELECT CAST({path} AS VARCHAR) AS p FROM t WHERE {path} IS NOT NULL GROUP BY p "
            f"HAVING count(DISTINCT {label}) > 1 ORDER BY min(rowid)").fetchall()]
        if conflicting:
            issues.append(Issue("warning", "conflicting_labels",
                                f"{len(conflicting)} paths have more than one label",
                                len(conflicting), rel, "label",
                                tuple(conflicting[:MAX_EXAMPLES])))
    return issues


# ---------------------------------------------------------------------------------------------
# Entry point


def check(path: str | os.PathLike[str], label_column: str | None = None,
          manifest: Mapping[str, Mapping[str, Any]] | None = None) -> QualityReport:
    """Check a dataset folder (or a single file) and report what is wrong with it.

    Parameters
    ----------
    path
        A materialised dataset version, a folder, or one tabular file.
    label_column
        Name of the label column; tables that have it get a label distribution.
    manifest
        ``relative path -> {"oid", "size"}`` of the version, when known: duplicate content is
        then found from the oids without re-hashing.
    """
    root, files = resolve(path, manifest)
    scan = scan_files(root, files)
    issues = file_issues(scan)
    broken = set(scan["zero"]) | {p for p, _ in scan["corrupt"]}
    profiles = []
    known_paths = {f.path for f in files}
    for f in files:
        if tables.is_table(f.path) and f.path not in broken:
            profile, table_issues = profile_table(root / f.path, f.path, label_column,
                                                  known_paths)
            issues.extend(table_issues)
            if profile is not None:
                profiles.append(profile)
    if label_column is not None and profiles and not any(p.label_column for p in profiles):
        raise InvalidInput(
            f"no table in {str(root)!r} has a column {label_column!r}; columns are "
            + "; ".join(f"{p.file}: {[c.name for c in p.columns]}" for p in profiles))
    order = {s: n for n, s in enumerate(SEVERITIES)}
    issues.sort(key=lambda i: (order[i.severity], i.kind, i.file or "", i.column or ""))
    return QualityReport(str(root), len(files), sum(f.size for f in files), tuple(profiles),
                         tuple(issues))
