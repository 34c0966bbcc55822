"""Every error jupyter-dlbench raises on purpose.

One root, narrow subclasses, messages written for the person who typed the command. The
server extension maps ``http_status`` to its HTTP answer once, so a user mistake is a 4xx and
never a 500.
"""

from __future__ import annotations


class DlbenchError(Exception):
    """Root of our errors: a message for humans and a stable machine-readable code."""

    code = "dlbench_error"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"message": self.message, "code": self.code}


class InvalidInput(DlbenchError):
    """The caller gave a value we cannot use; the message says what was expected."""

    code = "invalid_input"
    http_status = 400


class NotFound(DlbenchError):
    code = "not_found"
    http_status = 404


class RunNotFound(NotFound):
    code = "run_not_found"

    def __init__(self, run_ref: str, hint: str = "") -> None:
        super().__init__(f"no run matches {run_ref!r}{hint}; `dlbench runs ls` lists the runs")
        self.run_ref = run_ref


class AmbiguousRun(InvalidInput):
    code = "ambiguous_run"


class RunStateError(DlbenchError):
    """An operation that the run's current state does not allow (logging after finish)."""

    code = "run_state"
    http_status = 409


class NoActiveRun(DlbenchError):
    code = "no_active_run"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "there is no active run in this process: call `run = dlb.init()` first "
            "(or use `run.log(...)` on a run object)"
        )


class WorkspaceError(DlbenchError):
    code = "workspace"


class WorkspaceNotWritable(WorkspaceError):
    code = "workspace_read_only"
    http_status = 403


class CatalogBusy(WorkspaceError):
    code = "catalog_busy"
    http_status = 503


class CatalogCorrupt(WorkspaceError):
    code = "catalog_corrupt"


class WorkspaceTooNew(WorkspaceError):
    code = "workspace_too_new"


class ReadOnlyQuery(InvalidInput):
    code = "read_only_query"


class QueryError(InvalidInput):
    code = "query_error"


class ObjectNotFound(NotFound):
    code = "object_not_found"


class ObjectCorrupt(DlbenchError):
    code = "object_corrupt"


class DatasetNotFound(NotFound):
    """An unknown dataset name or version (the message lists what exists)."""

    code = "dataset_not_found"


class DatasetConflict(DlbenchError):
    """A dataset operation that would overwrite something (a non-empty checkout folder)."""

    code = "dataset_conflict"
    http_status = 409


class StorageFull(WorkspaceError):
    """The disk filled up while writing; nothing partial was made visible."""

    code = "storage_full"
    http_status = 507


class RayAddressNotAllowed(DlbenchError):
    """A Ray address outside the configured allow-list (``DLBENCH_RAY_ALLOWED_ADDRESSES``)."""

    code = "ray_address_not_allowed"
    http_status = 403
    field = "ray_address"


class CatalogStale(UserWarning):
    """A read answered from the catalog as it was, without the newest journal records.

    Ingesting them needs to write the catalog, which a full disk refuses; the records stay
    safe in their run journals and the first read after space is freed folds them in.
    """
