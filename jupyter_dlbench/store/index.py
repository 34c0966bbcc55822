"""The DuckDB catalog: the one module that imports duckdb.

The catalog is an index over run journals and objects, never the truth: ``doctor --rebuild``
recreates it. Every open goes through :func:`file_lock` so that exactly one process holds the
file at a time (DuckDB refuses a second process, and handing the file back and forth by
retrying on its lock error lost committed rows in our measurements).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    CatalogCorrupt,
    QueryError,
    ReadOnlyQuery,
    StorageFull,
    WorkspaceNotWritable,
    WorkspaceTooNew,
)
from .lock import file_lock
from .migrations import LATEST_VERSION, MIGRATIONS, migration_sql

if TYPE_CHECKING:
    import duckdb
else:
    class _DuckDB:
        """DuckDB, imported on first use: a ``data add`` (which never opens the catalog) does not
        pay the ~0.1 s its import costs."""

        def __getattr__(self, attr: str) -> Any:
            import duckdb as module

            globals()["duckdb"] = module
            return getattr(module, attr)

    duckdb = _DuckDB()

_CORRUPT_HINT = "run `dlbench doctor --rebuild` to rebuild it from the run journals"
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded")


def _storage_full(e: BaseException, path: Path) -> StorageFull | None:
    """DuckDB reports ENOSPC only as text; name it so nobody is sent to rebuild a sound catalog."""
    if not any(t in str(e) for t in _DISK_FULL_TEXT):
        return None
    return StorageFull(
        f"no space left on the disk holding the catalog {path}; the last change was not saved "
        "and the catalog keeps its previous state — free some space and retry"
    )


class CatalogSession:
    """An open catalog connection, valid inside ``Catalog.session()`` only."""

    def __init__(self, con: duckdb.DuckDBPyConnection, writable: bool) -> None:
        self._con = con
        self.writable = writable
        # why this session shows an older catalog than the journals hold (a full disk), or None
        self.stale: str | None = None

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, params or []).fetchall()

    def df(self, sql: str, params: list[Any] | None = None):  # type: ignore[no-untyped-def]
        return self._con.execute(sql, params or []).df()

    def arrow(self, sql: str, params: list[Any] | None = None):  # type: ignore[no-untyped-def]
        return self._con.execute(sql, params or []).arrow()

    def insert_arrow(self, table: str, data: Any, columns: list[str], replace: bool = False) -> None:
        """Bulk insert an Arrow table (``columns`` name the target columns in order)."""
        name = f"_batch_{table}"
        self._con.register(name, data)
        try:
            verb = "INSERT OR REPLACE" if replace else "INSERT"
            cols = ", ".join(columns)
            self._con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM {name}")
        finally:
            self._con.unregister(name)

    def register(self, name: str, data: Any) -> None:
        self._con.register(name, data)

    def unregister(self, name: str) -> None:
        self._con.unregister(name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def lock_down(self) -> None:
        """Forbid file and network access for the rest of this connection (user SQL follows).

        Without it a SELECT could read any file through ``read_text`` and leak it in an error.
        It cannot be switched back on, which is why sessions are short-lived.
        """
        self._con.execute("SET enable_external_access = false")

    def user_query(self, sql: str):  # type: ignore[no-untyped-def]
        """Run one user-written read-only SELECT and return a pandas DataFrame."""
        if not isinstance(sql, str):
            raise QueryError(f"the SQL must be a string, got {type(sql).__name__}")
        try:
            sql.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: DuckDB's binding cannot even take it
            raise QueryError("the SQL is not valid Unicode (it holds a lone surrogate)") from None
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as e:
            raise QueryError(f"the SQL does not parse: {_first_line(e)}") from None
        if len(statements) != 1:
            raise QueryError(f"expected exactly one SQL statement, got {len(statements)}")
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise ReadOnlyQuery(
                f"only SELECT queries are allowed (got a {kind.name} statement); the catalog is "
                "read-only through SQL — use dlb.init()/run.log() to record data"
            )
        self.lock_down()
        try:
            return self._con.execute(sql).df()
        except duckdb.Error as e:
            raise QueryError(f"query failed: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


class Catalog:
    def __init__(self, path: Path, lock_path: Path, lock_timeout: float,
                 fold: Callable[[CatalogSession], object] | None = None) -> None:
        self.path = path
        self.lock_path = lock_path
        self.lock_timeout = lock_timeout
        # records written without the catalog (dataset versions), folded into every session
        # that can write, before the caller sees it
        self.fold = fold

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def session(self, write: bool = True) -> Iterator[CatalogSession]:
        """Open the catalog under our lock; ``write=False`` shares the lock with other readers.

        A workspace on a read-only file system or folder is opened read-only even when
        ``write`` is asked for; callers check ``session.writable``.
        """
        writable = write and os.access(self.path.parent, os.W_OK)
        if not writable and not self.path.exists():
            raise WorkspaceNotWritable(
                f"the workspace {self.path.parent} is read-only and has no catalog yet"
            )
        with file_lock(self.lock_path, exclusive=writable, timeout=self.lock_timeout):
            con = self._connect(read_only=not writable)
            try:
                if writable:
                    self._migrate(con)
                else:
                    self._check_version(con)
                session = CatalogSession(con, writable)
                if writable and self.fold is not None:
                    self.fold(session)
                yield session
                if writable:
                    con.execute("CHECKPOINT")
            except duckdb.Error as e:
                full = _storage_full(e, self.path)
                if full is not None:
                    raise full from None
                if isinstance(e, (duckdb.IOException, duckdb.SerializationException)) and (
                        str(self.path) in str(e) or "orrupt" in str(e)):
                    # the file opened but its blocks do not read back (truncated, overwritten)
                    raise CatalogCorrupt(
                        f"the catalog {self.path} is damaged ({_first_line(e)}); {_CORRUPT_HINT}"
                    ) from None
                raise
            finally:
                con.close()

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as e:
            text = str(e)
            full = _storage_full(e, self.path)
            if full is not None:
                raise full from None
            if "Permission denied" in text or "Read-only file system" in text:
                raise WorkspaceNotWritable(f"cannot open the catalog {self.path}: {_first_line(e)}") from None
            raise CatalogCorrupt(
                f"the catalog {self.path} cannot be opened ({_first_line(e)}); {_CORRUPT_HINT}"
            ) from None
        except duckdb.Error as e:
            raise CatalogCorrupt(
                f"the catalog {self.path} cannot be opened ({_first_line(e)}); {_CORRUPT_HINT}"
            ) from None

    def _version(self, con: duckdb.DuckDBPyConnection) -> int:
        try:
            # duckdb_tables(), not information_schema: the same answer in 1 ms instead of 10-20,
            # paid on every catalog open
            has = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version'"
            ).fetchall()[0]
            if not has or not has[0]:
                return 0
            row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
        except duckdb.Error as e:
            raise CatalogCorrupt(
                f"the catalog {self.path} is unreadable ({_first_line(e)}); {_CORRUPT_HINT}"
            ) from None
        return int(row[0]) if row and row[0] is not None else 0

    def _check_version(self, con: duckdb.DuckDBPyConnection) -> int:
        version = self._version(con)
        if version > LATEST_VERSION:
            raise WorkspaceTooNew(
                f"the catalog {self.path} has schema version {version}, newer than this "
                f"jupyter-dlbench understands ({LATEST_VERSION}); upgrade jupyter-dlbench"
            )
        return version

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        version = self._check_version(con)
        if version == LATEST_VERSION:
            return
        con.execute("BEGIN TRANSACTION")
        try:
            if version == 0:
                con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
            for number, filename in MIGRATIONS:
                if number > version:
                    con.execute(migration_sql(filename))
                    con.execute("INSERT INTO schema_version VALUES (?, now())", [number])
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
