"""The public Python API behind ``import jupyter_dlbench as dlb``."""

from __future__ import annotations

from typing import Any

from .store import Workspace
from .tracking import current, query
from .tracking.run import Run


def init(
    project: str | None = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    workspace: str | None = None,
) -> Run:
    """Start a tracked run in this process and make it the current one.

    Params from a papermill-injected cell and the notebook's ``parameters`` cell are picked up
    automatically; ``params`` given here win. Use as a context manager to mark the run failed
    when its block raises.
    """
    ws = Workspace.find_at(workspace) if workspace else None
    return Run.start(project=project, name=name, params=params, tags=tags, workspace=ws)


def log(metrics: dict[str, Any], step: int | None = None) -> None:
    """``run.log`` on the current run."""
    current.get_current().log(metrics, step=step)


def log_artifact(path: str, name: str | None = None) -> list[str]:
    return current.get_current().log_artifact(path, name=name)


def finish(status: str = "finished") -> None:
    current.get_current().finish(status)


def current_run() -> Run:
    return current.get_current()


def runs(project: str | None = None, where: str | None = None, include_system: bool = False,
         workspace: str | None = None):  # type: ignore[no-untyped-def]
    """A DataFrame of runs with ``params.*`` and ``metrics.*`` (last, ``.min``, ``.max``) columns.

    ``where`` filters with a SQL expression over those names: ``where="params.lr < 0.01"``.
    """
    ws = Workspace.find_at(workspace) if workspace else None
    with query.catalog(ws) as session:
        return query.runs_frame(session, project=project, where=where, include_system=include_system)


def run_info(run: str, workspace: str | None = None) -> dict[str, Any]:
    """Everything recorded about one run (id or unique id prefix)."""
    ws = Workspace.find_at(workspace) if workspace else None
    with query.catalog(ws) as session:
        return query.run_details(session, run)


def metrics(run: str, key: str | None = None, workspace: str | None = None):  # type: ignore[no-untyped-def]
    """The full metric history of one run as a DataFrame (key, step, value, ts)."""
    ws = Workspace.find_at(workspace) if workspace else None
    with query.catalog(ws) as session:
        return query.metric_history(session, query.resolve_run(session, run), key)


def sql(statement: str, workspace: str | None = None):  # type: ignore[no-untyped-def]
    """Run one read-only SELECT over the views ``runs``, ``params``, ``metrics``, ``artifacts``."""
    ws = Workspace.find_at(workspace) if workspace else None
    with query.catalog(ws) as session:
        return session.user_query(statement)
