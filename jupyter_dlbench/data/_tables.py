"""Profiling of tabular files in DuckDB, shared by ``checks`` and ``clean``.

Every statistic is an aggregate in one SQL pass (plus one GROUP BY for duplicates), so the
work happens in DuckDB's vectorised, multi-threaded engine and never in a Python row loop.

CSV is read with every column as text: a numeric column holding a few stray strings would
otherwise either become text silently or fail the read, depending on where the strings sit
relative to DuckDB's type-sniffing sample. We infer each text column's type ourselves from how
many of its values cast, and report the values that do not.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

# Candidate types for text columns, narrowest first: a column takes the one most of its
# values cast to (ties go to the narrower), when at least MIN_TYPE_SHARE of them do.
CANDIDATES = ("BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP")
MIN_TYPE_SHARE = 0.9
SAMPLE_ROWS = 100_000
TEXT_TYPES = ("VARCHAR", "JSON")
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "json", ".ndjson": "json"}
MAX_EXAMPLES = 5


def table_format(path: str) -> str | None:
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return SUFFIXES.get(os.path.splitext(name)[1])


def is_table(path: str) -> bool:
    return table_format(path) is not None


def q(name: str) -> str:
    """Quote an identifier for SQL (column names come from user files)."""
    return '"' + name.replace('"', '""') + '"'


def connect() -> duckdb.DuckDBPyConnection:
    import duckdb  # on first use: `dlbench data add` imports this module but never checks tables

    con = duckdb.connect()
    # an in-memory database spills to ./.tmp by default: keep spill files out of the user's cwd
    spill = Path(tempfile.gettempdir()) / f"dlbench-duckdb-{os.getpid()}"
    con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    con.execute("SET enable_progress_bar = false")
    return con


@dataclass
class Column:
    name: str
    type: str
    inferred: str
    nonnull: int = 0
    constant: bool = False
    type_errors: int = 0
    internal: str | None = None  # its name inside ``t`` when the user's name is taken

    @property
    def sql(self) -> str:
        """The column quoted for SQL over ``t``."""
        return q(self.internal or self.name)

    @property
    def text(self) -> str:
        """SQL for the column's value as text (JSON strings unquoted)."""
        if self.type == "JSON":
            return f"(CASE WHEN json_type({self.sql}) = 'VARCHAR' THEN {self.sql}->>'$' " \
                   f"ELSE CAST({self.sql} AS VARCHAR) END)"
        return self.sql

    def failing(self) -> str | None:
        """SQL predicate true where the value is present but does not cast to the inferred type."""
        if self.type not in TEXT_TYPES or self.inferred in TEXT_TYPES:
            return None
        return f"({self.sql} IS NOT NULL AND NOT {valid(self.text, self.inferred)})"


@dataclass
class Table:
    """A user table loaded into DuckDB as ``t`` (``rowid`` is the file's row order)."""

    con: duckdb.DuckDBPyConnection
    format: str
    columns: list[Column]
    rows: int = 0
    rows_with_nulls: int = 0
    csv_delimiter: str = ","
    csv_header: bool = True
    # CSV lines DuckDB set aside (wrong number of fields...): (line number in the file, why)
    malformed: list[tuple[int, str]] = field(default_factory=list)

    def where(self, kind: str) -> str:
        """Predicate selecting the rows of one defect kind: ``corrupt`` or ``null_rows``."""
        if kind == "corrupt":
            preds = [p for c in self.columns if (p := c.failing())]
        elif kind == "null_rows":
            preds = [f"{c.sql} IS NULL" for c in self.columns]
        else:
            raise ValueError(kind)
        return "(" + " OR ".join(preds) + ")" if preds else "FALSE"

    @property
    def all_columns(self) -> str:
        return ", ".join(c.sql for c in self.columns)

    def count(self, where: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM t WHERE {where}").fetchone()[0])

    def duplicate_rows(self, where: str = "TRUE") -> int:
        """Rows that repeat an earlier row exactly (the copies a dedup would remove)."""
        if not self.columns:
            return 0
        sql = (f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM t WHERE {where} "
               f"GROUP BY {self.all_columns})")
        return int(self.con.execute(sql).fetchone()[0])

    def duplicate_examples(self) -> list[str]:
        sql = (f"SELECT rowid, first_value(rowid) OVER (PARTITION BY {self.all_columns} "
               f"ORDER BY rowid) AS first FROM t QUALIFY rowid <> first ORDER BY rowid "
               f"LIMIT {MAX_EXAMPLES}")
        return [f"row {r + 1} repeats row {f + 1}" for r, f in self.con.execute(sql).fetchall()]

    def row_examples(self, where: str) -> list[str]:
        sql = f"SELECT rowid FROM t WHERE {where} ORDER BY rowid LIMIT {MAX_EXAMPLES}"
        return [f"row {r + 1}" for (r,) in self.con.execute(sql).fetchall()]

    def failing_examples(self, column: Column) -> list[str]:
        pred = column.failing()
        sql = (f"SELECT {column.text} AS v FROM t WHERE {pred} GROUP BY v ORDER BY min(rowid) "
               f"LIMIT {MAX_EXAMPLES}")
        return [str(v) for (v,) in self.con.execute(sql).fetchall()]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def label_counts(self, column: str) -> dict[str, int]:
        col = self.column(column).sql
        sql = (f"SELECT CAST({col} AS VARCHAR) AS k, count(*) AS n FROM t "
               f"WHERE {col} IS NOT NULL GROUP BY k ORDER BY n DESC, k")
        return {str(k): int(n) for k, n in self.con.execute(sql).fetchall()}


class Unreadable(Exception):
    """DuckDB could not parse the user's file (malformed CSV, not really Parquet, ...)."""


def load(con: duckdb.DuckDBPyConnection, full: Path, fmt: str) -> Table:
    """Read the file into table ``t`` and work out each column's type, nulls and constancy.

    Raises :class:`Unreadable` when the file itself cannot be parsed; errors in our own SQL
    are bugs and propagate as they are."""
    import duckdb

    path = str(full)
    delimiter, header = ",", True
    try:
        if fmt == "csv":
            # store_rejects: ragged lines are set aside (and reported) instead of making the
            # sniffer give up on the real delimiter and read each line as one column
            sniffed = con.execute("SELECT Delimiter, HasHeader FROM sniff_csv(?, store_rejects = true)",
                                  [path]).fetchone()
            delimiter, header = sniffed[0], bool(sniffed[1])
            source = "read_csv(?, all_varchar = true, store_rejects = true)"
        elif fmt == "parquet":
            source = "read_parquet(?)"
        else:
            source = "read_json(?, format = 'newline_delimited')"
        con.execute(f"CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM {source}", [path])
    except duckdb.Error as e:  # only the read itself is in here: any failure is the file's
        text = str(e).strip()
        raise Unreadable(text.splitlines()[0] if text else type(e).__name__) from None
    schema = con.execute("SELECT column_name, column_type FROM (DESCRIBE t)").fetchall()
    columns = [Column(n, str(ty), str(ty)) for n, ty in schema]
    for c in columns:
        if c.name.lower() == "rowid":  # a user column named rowid hides DuckDB's row order
            c.internal = "__dlbench_user_rowid"
            con.execute(f"ALTER TABLE t RENAME COLUMN {q(c.name)} TO {c.sql}")
    table = Table(con, fmt, columns,
                  csv_delimiter=delimiter, csv_header=header)
    if fmt == "csv":
        table.malformed = [(int(line), str(msg)) for line, msg in con.execute(
            "SELECT line, error_message FROM reject_errors ORDER BY line").fetchall()]
    _profile(table)
    return table


def _is_nested(type_name: str) -> bool:
    return any(s in type_name for s in ("[", "(", "STRUCT", "MAP", "UNION"))


def valid(text: str, type_name: str) -> str:
    """SQL: the text value is a ``type_name``. DuckDB's cast to BIGINT rounds ``'0.5'``, so an
    integer must also have no decimal point."""
    cast = f"TRY_CAST({text} AS {type_name}) IS NOT NULL"
    return f"({cast} AND NOT contains({text}, '.'))" if type_name == "BIGINT" else f"({cast})"


def _profile(table: Table) -> None:
    """Two passes: candidate types from a sample (trying five casts on every value of a large
    table costs more than everything else together), then one aggregate pass over all rows."""
    text_cols = [c for c in table.columns if c.type in TEXT_TYPES]
    if text_cols:
        aggs = [f"count({c.text})" for c in text_cols] + [
            f"count(*) FILTER (WHERE {valid(c.text, ty)})" for c in text_cols for ty in CANDIDATES]
        sample = table.con.execute(
            f"SELECT {', '.join(aggs)} FROM (SELECT * FROM t USING SAMPLE reservoir("
            f"{SAMPLE_ROWS} ROWS) REPEATABLE (0))").fetchone()
        n = len(text_cols)
        for k, c in enumerate(text_cols):
            nonnull = int(sample[k])
            casts = [int(x) for x in sample[n + k * len(CANDIDATES):n + (k + 1) * len(CANDIDATES)]]
            best = max(range(len(CANDIDATES)), key=lambda j: (casts[j], -j))
            if nonnull and casts[best] >= MIN_TYPE_SHARE * nonnull:
                c.inferred = CANDIDATES[best]
    aggs = ["count(*)"]
    for c in table.columns:
        v = f"CAST({c.sql} AS VARCHAR)" if _is_nested(c.type) or c.type == "JSON" else c.sql
        aggs += [f"count({c.sql})", f"min({v}) IS NOT DISTINCT FROM max({v})",
                 f"count(*) FILTER (WHERE {c.failing() or 'FALSE'})"]
    aggs.append(f"count(*) FILTER (WHERE {table.where('null_rows')})")
    result = table.con.execute(f"SELECT {', '.join(aggs)} FROM t").fetchone()
    table.rows = int(result[0])
    table.rows_with_nulls = int(result[-1])
    for k, c in enumerate(table.columns):
        c.nonnull, same, c.type_errors = int(result[1 + 3 * k]), bool(result[2 + 3 * k]), \
            int(result[3 + 3 * k])
        c.constant = table.rows > 1 and c.nonnull > 0 and same
        if c.type_errors and c.nonnull - c.type_errors < MIN_TYPE_SHARE * c.nonnull:
            # the sample misled us: over all rows too few values are of the type
            c.inferred, c.type_errors = "VARCHAR", 0


def copy_to(table: Table, where: str, dest: Path, dedupe: bool) -> None:
    """Write the rows matching ``where`` (file order kept, first copy of duplicates kept) to
    ``dest`` in the table's own format."""
    # t.rowid, qualified: the output names could include a user column called rowid
    qualify = (f" QUALIFY row_number() OVER (PARTITION BY {table.all_columns} ORDER BY t.rowid) = 1"
               if dedupe and table.columns else "")
    named = ", ".join(f"{c.sql} AS {q(c.name)}" for c in table.columns)
    select = f"SELECT {named} FROM t WHERE {where}{qualify} ORDER BY t.rowid"
    target = str(dest).replace("'", "''")
    if table.format == "csv":
        delim = table.csv_delimiter.replace("'", "''")
        options = f"FORMAT csv, HEADER {str(table.csv_header).lower()}, DELIMITER '{delim}'"
    elif table.format == "parquet":
        options = "FORMAT parquet"
    else:
        options = "FORMAT json"
    table.con.execute(f"COPY ({select}) TO '{target}' ({options})")


def describe(table: Table) -> dict[str, Any]:
    return {"rows": table.rows, "columns": [c.name for c in table.columns]}
