"""Running a past run again: the same notebook snapshot and params, some of them changed.

The snapshot, not the notebook file as it is now, is what runs: the file may have been edited
or deleted since, and "rerun" means "reproduce". ``dlbench rerun`` and the REST API's
``POST runs/{id}/rerun`` share this.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput
from ..store import Workspace
from ..tracking import query
from .jobs import JobState
from .notebooks import Parameter, parse_parameters
from .submit import submit_notebook


def rerun_run(ws: Workspace, ref: str, overrides: dict[str, Any] | None = None,
              **options: Any) -> JobState:
    """Queue a job that runs run ``ref``'s notebook snapshot with its params, ``overrides``
    replacing some; ``options`` are :func:`submit_notebook`'s (executor, gpus, ...).

    Raises
    ------
    InvalidInput
        When the run kept no notebook snapshot (a script, or capture turned off), or an
        override does not fit the notebook's parameters cell.
    """
    with query.catalog(ws) as session:
        info = query.run_details(session, ref)
    run_id = info["run_id"]
    snapshot, path = info.get("snapshot_oid"), info.get("notebook_path")
    if not snapshot or not path:
        raise InvalidInput(f"run {run_id} has no stored notebook snapshot, so it cannot be rerun")
    if not str(path).endswith(".ipynb"):
        raise InvalidInput(f"run {run_id} ran {path!r}, not a notebook; only notebook runs can "
                           "be rerun as jobs")
    declared = _declared(ws, snapshot)
    # only what the parameters cell declares is carried over: a run also records params
    # it set itself (dlb.init(params=...)), which papermill could not inject
    names = {p.name for p in declared or []}
    params = {k: v for k, v in info["params"].items() if k in names}
    params.update(overrides or {})
    options.setdefault("project", info.get("project"))
    options.setdefault("name", info.get("name"))
    return submit_notebook(ws, path, params, snapshot_oid=snapshot, rerun_of=run_id,
                           allow_no_parameters_cell=declared is None, **options)


def _declared(ws: Workspace, oid: str) -> list[Parameter] | None:
    nb = json.loads(ws.objects.read_bytes(oid))
    for cell in nb.get("cells", []):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell.get("source", "")
            return parse_parameters("".join(source) if isinstance(source, list) else source)
    return None
