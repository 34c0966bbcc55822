"""Sweeps from the Run-on-GPU dialog: preview a spec as the user types, start one on submit.

``jupyter_dlbench.sweeps`` is imported on first use; an installation without it answers 501.
Fixed ``params`` sent with a sweep become one-value dimensions of the spec, so every trial
gets them and the notebook's parameters cell checks them like the swept ones.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.execution.jobs import JobNotFound, JobStore
from jupyter_dlbench.execution.notebooks import read_parameters
from jupyter_dlbench.store import Workspace

from .base import BodyError, NotAvailable
from .jobs import checked_options, job_dict
from .paths import confine
from .payloads import jsonable

PREVIEW_LIMIT = 1000


def _sweeps() -> Any:
    try:
        from jupyter_dlbench.sweeps import engine, spec
    except ImportError as e:
        raise NotAvailable(
            f"sweeps are not available in this installation of jupyter-dlbench ({e}); submit "
            "without `sweep`, one job per parameter set") from None
    return engine, spec


def _spec(body: dict[str, Any], path: Any) -> Any:
    """The typed spec: the ``sweep`` text plus fixed ``params``, checked against the notebook."""
    _, spec_mod = _sweeps()
    try:
        spec = spec_mod.parse_spec(body["sweep"], method=body.get("method") or None)
        fixed = body.get("params") or {}
        clash = sorted(set(fixed) & set(spec.names))
        if clash:
            raise BodyError(f"{clash[0]!r} is both swept and fixed in params; give it in one "
                            "place only", f"params.{clash[0]}")
        if fixed:
            extra = spec_mod.spec_from_dict({k: [v] for k, v in fixed.items()})
            spec = replace(spec, dims=spec.dims + extra.dims)
        return spec.validate_against(read_parameters(path), notebook=body["notebook"])
    except BodyError:
        raise
    except InvalidInput as e:
        raise BodyError(e.message, "sweep") from None


def preview(root_dir: str, body: dict[str, Any]) -> dict[str, Any]:
    path, _ = confine(root_dir, body["notebook"], "notebook", "notebook", suffix=".ipynb")
    spec = _spec(body, path)
    swept = [d.name for d in spec.dims if d.is_range or len(d.choices or ()) > 1]
    try:
        trials = spec.expand()[:PREVIEW_LIMIT]
    except InvalidInput as e:
        raise BodyError(e.message, "sweep") from None
    return {"count": spec.n_runs, "params": swept, "trials": jsonable(trials)}


def submit_sweep(ws: Workspace, root_dir: str, body: dict[str, Any]) -> dict[str, Any]:
    engine, _ = _sweeps()
    path, _ = confine(root_dir, body["notebook"], "notebook", "notebook", suffix=".ipynb")
    spec = _spec(body, path)
    options = checked_options(body)
    try:
        sweep = engine.start_sweep(
            ws, path, spec, concurrency=body.get("concurrency") or 2, gpus=options["gpus"],
            executor=options["executor"], name=options["name"],
            ray_address=options["ray_address"], project=options["project"], background=True)
    except InvalidInput as e:
        raise BodyError(e.message, "sweep") from None
    store = JobStore(ws)
    jobs = []
    for trial in sweep.trials():
        try:
            jobs.append(job_dict(store.load(trial["job_id"]), store, root_dir))
        except JobNotFound:
            continue
    return {"jobs": jobs, "sweep_id": sweep.id}
