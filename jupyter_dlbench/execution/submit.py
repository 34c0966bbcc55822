"""Submitting notebook jobs: validation first, then an immutable spec in the job queue."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..store import Workspace
from .jobs import EXECUTORS, JobSpec, JobState, JobStore, new_job_id
from .notebooks import coerce_parameters, read_parameters
from .ray_policy import check_ray_address
from .resources import check_gpu_request


def submit_notebook(
    ws: Workspace,
    notebook: str | Path,
    params: dict[str, Any] | None = None,
    *,
    executor: str = "local",
    gpus: float = 0.0,
    cpus: float = 1.0,
    retries: int = 0,
    project: str | None = None,
    name: str | None = None,
    allow_no_parameters_cell: bool = False,
    kernel_name: str = "python3",
    timeout_s: float | None = None,
    ray_address: str | None = None,
    sweep_id: str | None = None,
    rerun_of: str | None = None,
    snapshot_oid: str | None = None,
    reuse_kernel: bool = False,
) -> JobState:
    """Validate params against the notebook's ``parameters`` cell and queue a job.

    The notebook is snapshotted now: later edits to the file do not change what the job runs,
    and a rerun uses the same snapshot. ``reuse_kernel`` (sweep trials) lets a runner run the
    job on the kept kernel of the previous trial of the same sweep, namespace reset.
    """
    if "\x00" in str(notebook):
        raise InvalidInput("the notebook path contains a NUL byte")
    path = Path(notebook).expanduser().absolute()
    if executor not in EXECUTORS:
        raise InvalidInput(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if executor == "ray" or ray_address:  # refused before anything is stored or queued
        check_ray_address(ray_address)
    if snapshot_oid is None:
        try:
            exists = path.is_file()
        except OSError as e:  # a name too long for the file system
            raise InvalidInput(f"notebook {str(notebook)[:200]!r} cannot be used: {e.strerror}") from None
        if not exists:
            raise InvalidInput(f"notebook {str(notebook)!r} does not exist")
        declared = read_parameters(path)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / path.name
            copy.write_bytes(ws.objects.read_bytes(snapshot_oid))
            declared = read_parameters(copy)
    coerced = coerce_parameters(dict(params or {}), declared, allow_no_cell=allow_no_parameters_cell,
                                notebook=str(notebook))
    # the job records every parameter, defaults included, so a rerun and the run page say
    # exactly what ran (defaults that are not literals stay the notebook's business)
    defaults = {p.name: p.default for p in declared or [] if p.type_name != "other"}
    coerced = {**defaults, **coerced}
    gpus = check_gpu_request(gpus)
    if timeout_s is not None and timeout_s <= 0:
        raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout_s}")
    oid = snapshot_oid or ws.objects.put_file(path).oid
    spec = JobSpec(job_id=new_job_id(), notebook=str(path), snapshot_oid=oid, params=coerced,
                   executor=executor, gpus=gpus, cpus=float(cpus), retries=int(retries),
                   project=project, name=name, kernel_name=kernel_name, timeout_s=timeout_s,
                   ray_address=ray_address, sweep_id=sweep_id, rerun_of=rerun_of,
                   reuse_kernel=bool(reuse_kernel and sweep_id and executor == "local"))
    return JobStore(ws).submit(spec)
