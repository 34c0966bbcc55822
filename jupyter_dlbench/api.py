"""The public Python API behind ``import jupyter_dlbench as dlb``."""

from __future__ import annotations

from typing import Any

from .execution import remote_data
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
    with query.catalog(ws, stale_ok=True) as session:
        return query.runs_frame(session, project=project, where=where, include_system=include_system)


def run_info(run: str, workspace: str | None = None) -> dict[str, Any]:
    """Everything recorded about one run (id or unique id prefix)."""
    ws = Workspace.find_at(workspace) if workspace else None
    with query.catalog(ws, stale_ok=True) as session:
        return query.run_details(session, run)


def metrics(run: str, key: str | None = None, workspace: str | None = None):  # type: ignore[no-untyped-def]
    """The full metric history of one run as a DataFrame (key, step, value, ts)."""
    ws = Workspace.find_at(workspace) if workspace else None
    with query.catalog(ws, stale_ok=True) as session:
        return query.metric_history(session, query.resolve_run(session, run), key)


def sql(statement: str, workspace: str | None = None):  # type: ignore[no-untyped-def]
    """Run one read-only SELECT over the views ``runs``, ``params``, ``metrics``, ``artifacts``."""
    ws = Workspace.find_at(workspace) if workspace else None
    with query.catalog(ws, stale_ok=True) as session:
        return session.user_query(statement)


def _record_dataset(run: Run, name: str, version: str, direction: str) -> None:
    """Note a dataset version in the run's journal; ingest folds it into ``run_datasets``.

    The run process never writes lineage to the catalog itself (DESIGN.md: journals are the
    truth), so this goes through the same buffered event queue as params and artifacts.
    """
    run.record_event("dataset", name=name, version=version, direction=direction)


def dataset(name: str, version: str = "latest", workspace: str | None = None):  # type: ignore[no-untyped-def]
    """A dataset version materialised on local disk: ``.path``, ``.files``, ``.manifest``.

    ``name`` may carry the version (``"digits@v2"``). Inside a tracked run the version is
    recorded as an input of the run, so ``dlbench data used-by`` and ``run_info`` show it.
    """
    from . import data

    if isinstance(name, str) and "@" in name:
        name, version = data.parse_ref(name)
    run = current.peek_current()
    if workspace is None and remote_data.active():
        # a job on another machine: only the objects this node's cache lacks are fetched
        ds = remote_data.open_dataset(name, version)
    else:
        ws = Workspace.find_at(workspace) if workspace else (run.workspace if run else Workspace.find())
        ds = data.open_dataset(ws, name, version)
    if run is not None:
        _record_dataset(run, ds.name, ds.version, "input")
    return ds


def log_dataset(name: str, path: str, message: str = "", metadata: dict[str, Any] | None = None,
                workspace: str | None = None):  # type: ignore[no-untyped-def]
    """Commit ``path`` as the next version of dataset ``name`` and return the version.

    Inside a tracked run the run is the version's producer and the version is recorded as the
    run's output. Unchanged content returns the latest version (``created`` is False).
    """
    from . import data

    run = current.peek_current()
    if workspace is None and remote_data.active():
        version = remote_data.log_dataset(name, path, message=message, metadata=metadata,
                                          producer_run_id=run.id if run else None)
    else:
        ws = Workspace.find_at(workspace) if workspace else (run.workspace if run else Workspace.find())
        version = data.add(ws, name, path, message=message, metadata=metadata,
                           producer_run_id=run.id if run else None, progress=False).version
    if run is not None:
        _record_dataset(run, version.name, version.version, "output")
    return version


def label(ds: Any, classes: list[str], commit: Any = None, labelled_by: str | None = None,
          workspace: str | None = None):  # type: ignore[no-untyped-def]
    """A labelling widget for a dataset version (``dlb.dataset(...)``) or a folder.

    Buttons (and keys 1-9 in its shortcut box) label the item shown; "commit" writes the
    labels table ``labels.csv`` into a new version whose parent is ``ds``.
    """
    from .widgets.labelling import label as labelling

    ws = Workspace.find_at(workspace) if workspace else None
    return labelling(ds, classes, commit=commit, labelled_by=labelled_by, workspace=ws)


def compare(runs: Any = None, where: str | None = None, project: str | None = None,
            objective: Any = None, workspace: str | None = None):  # type: ignore[no-untyped-def]
    """The comparison widget over a sweep, a list of run ids, or ``where``/``project`` filters.

    ``objective`` is a metric name (``"val_acc"``, ``"-loss"`` to minimise) or
    ``(metric, "min"|"max")``; a sweep brings its own.
    """
    from .widgets.compare import compare as build

    ws = Workspace.find_at(workspace) if workspace else None
    return build(runs, where=where, project=project, objective=objective, workspace=ws)


def report(target: Any, format: str = "html", objective: Any = None,
           workspace: str | None = None):  # type: ignore[no-untyped-def]
    """A run's or a sweep's report, shown inline in a notebook (``.save(path)`` writes it).

    ``format="md"`` gives Markdown for a pull request; a list of run ids needs ``objective``.
    """
    from .reports import report as build

    ws = Workspace.find_at(workspace) if workspace else None
    return build(target, format=format, workspace=ws, objective=objective)


def sweep(notebook: str, space: Any, *, method: str | None = None, random_n: int | None = None,
          seed: int | None = None, max_runs: int | None = None, concurrency: int = 2,
          gpus: float = 0, executor: str = "local", objective: Any = "val_acc:max",
          early_stop: Any = None, name: str | None = None, ray_address: str | None = None,
          project: str | None = None, wait: bool = False, workspace: str | None = None,
          fresh_kernel: bool = False):  # type: ignore[no-untyped-def]
    """Run ``notebook`` over a parameter space; returns the :class:`~.sweeps.Sweep` at once.

    ``space`` maps parameter names to a list of choices (``{"lr": [1e-3, 1e-4]}``), a range as
    text (``"1e-4..1e-2:log"``) or a tuple (``(1e-4, 1e-2, "log")``); ``NAME=VALUES`` strings
    work too. Ranges need ``random_n`` or ``method="tpe"`` with ``max_runs``. ``objective`` is
    ``"metric:max"`` or ``"metric:min"``; ``early_stop`` is ``"median"``, ``"asha"`` or a rule
    with options (``jupyter_dlbench.sweeps.MedianStop(warmup_steps=5)``). Trials run in the
    background so the kernel stays usable; ``wait=True`` blocks with a progress bar.
    Each trial reuses the previous trial's kernel (namespace reset) unless ``fresh_kernel=True``.
    """
    from .sweeps import parse_spec, spec_from_dict, start_sweep

    kw = {"method": method, "random_n": random_n, "seed": seed, "max_runs": max_runs}
    spec = spec_from_dict(space, **kw) if isinstance(space, dict) else parse_spec(space, **kw)
    ws = Workspace.find_at(workspace) if workspace else None
    handle = start_sweep(ws, notebook, spec, concurrency=concurrency, gpus=gpus, executor=executor,
                         objective=objective, early_stop=early_stop, name=name,
                         ray_address=ray_address, project=project, background=True,
                         fresh_kernel=fresh_kernel)
    return handle.wait() if wait else handle
