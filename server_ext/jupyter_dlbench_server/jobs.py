"""Jobs and notebook parameters as the JSON bodies of ``openapi.yaml``.

Thin over ``jupyter_dlbench.execution``: the job queue is folders, so none of this opens the
catalog. Every notebook path is confined to the server's root_dir first (``paths.confine``).
"""

from __future__ import annotations

import codecs
import functools
import os
from datetime import datetime, timezone
from typing import Any

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.execution.jobs import (
    EXECUTORS,
    QUEUED,
    RUNNING,
    STARTING,
    TERMINAL,
    JobState,
    JobStore,
)
from jupyter_dlbench.execution.notebooks import read_parameters
from jupyter_dlbench.execution.rerun import rerun_run
from jupyter_dlbench.execution.resources import check_gpu_request, detect_gpus
from jupyter_dlbench.execution.submit import submit_notebook
from jupyter_dlbench.store import Workspace

from .base import BodyError, JobStateConflict
from .paths import confine, relative_to_root
from .payloads import jsonable

NONE = type(None)
NUMBER = (int, float)
# The body of POST jobs and POST jobs/sweep-preview: field -> JSON types it may have.
JOB_FIELDS: dict[str, tuple[type, ...]] = {
    "notebook": (str,),
    "params": (dict,),
    "executor": (str,),
    "gpus": NUMBER,
    "cpus": NUMBER,
    "retries": (int,),
    "ray_address": (str, NONE),
    "project": (str, NONE),
    "name": (str, NONE),
    "timeout_s": (*NUMBER, NONE),
    "sweep": (str, NONE),
    "method": (str, NONE),
    "concurrency": (int, NONE),
}
# The body of POST runs/{id}/rerun: what may change from the run being repeated.
RERUN_FIELDS = {k: v for k, v in JOB_FIELDS.items()
                if k not in ("notebook", "sweep", "method", "concurrency")}
JOB_STATUSES = (QUEUED, STARTING, RUNNING, *TERMINAL)
_TIMES = ("submitted_at", "queued_at", "started_at", "ended_at")


def job_dict(state: JobState, store: JobStore, root_dir: str) -> dict[str, Any]:
    out = state.to_dict()
    out.pop("events", None)
    for key in _TIMES:
        ts = out.get(key)
        out[key] = (datetime.fromtimestamp(ts, timezone.utc).isoformat()
                    if isinstance(ts, (int, float)) else None)
    out["notebook_path"] = relative_to_root(root_dir, state.spec.notebook)
    out["cancel_requested"] = store.cancel_requested(state.job_id)
    return jsonable(out)


def checked_options(body: dict[str, Any]) -> dict[str, Any]:
    """Executor and resource fields of a job request, checked, each error naming its field."""
    executor = body.get("executor") or "local"
    if executor not in EXECUTORS:
        raise BodyError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}",
                        "executor")
    try:
        gpus = check_gpu_request(body.get("gpus", 0))
    except InvalidInput as e:
        raise BodyError(e.message, "gpus") from None
    if executor == "local" and gpus > local_gpu_count():
        have = local_gpu_count()
        raise BodyError(
            f"gpus={gpus:g} but this server has {have or 'no'} GPU{'' if have == 1 else 's'}: "
            "the job would wait forever; ask for fewer, use the ray executor, or declare "
            "logical GPUs with DLBENCH_GPUS=N before starting JupyterLab", "gpus")
    cpus = float(body.get("cpus", 1.0))
    if not cpus > 0:
        raise BodyError(f"cpus must be a positive number, got {body['cpus']}", "cpus")
    retries = body.get("retries", 0)
    if not 0 <= retries <= 100:
        raise BodyError(f"retries must be from 0 to 100, got {retries}", "retries")
    timeout = body.get("timeout_s")
    if timeout is not None and not timeout > 0:
        raise BodyError(f"timeout_s must be a positive number of seconds, got {timeout}",
                        "timeout_s")
    concurrency = body.get("concurrency")
    if concurrency is not None and concurrency < 1:
        raise BodyError(f"concurrency must be at least 1, got {concurrency}", "concurrency")
    return {"executor": executor, "gpus": gpus, "cpus": cpus, "retries": retries,
            "timeout_s": None if timeout is None else float(timeout),
            "ray_address": body.get("ray_address") or None,
            "project": body.get("project") or None, "name": body.get("name") or None}


def local_gpu_count() -> int:
    """GPUs the local scheduler can hand out (``DLBENCH_GPUS`` or nvidia-smi, asked once)."""
    return _gpu_count(os.environ.get("DLBENCH_GPUS", ""))


@functools.lru_cache(maxsize=8)
def _gpu_count(declared: str) -> int:
    return len(detect_gpus())


def submit(ws: Workspace, root_dir: str, body: dict[str, Any]) -> dict[str, Any]:
    """Queue one job (``sweep`` is handled by ``sweeps.submit_sweep``)."""
    path, _ = confine(root_dir, body["notebook"], "notebook", "notebook", suffix=".ipynb")
    params = body.get("params") or {}
    options = checked_options(body)
    state = submit_notebook(ws, path, params, allow_no_parameters_cell=not params,
                            **options)
    store = JobStore(ws)
    return {"jobs": [job_dict(state, store, root_dir)], "sweep_id": None}


def rerun(ws: Workspace, root_dir: str, ref: str, body: dict[str, Any]) -> dict[str, Any]:
    """Queue the run's notebook snapshot again with its params, ``body["params"]`` replacing
    some (see ``execution.rerun``)."""
    options = {k: v for k, v in checked_options(body).items()
               if v is not None or k not in ("project", "name")}  # absent: the run's own
    state = rerun_run(ws, ref, body.get("params") or {}, **options)
    return {"jobs": [job_dict(state, JobStore(ws), root_dir)], "sweep_id": None}


def list_jobs(ws: Workspace, root_dir: str, statuses: list[str] | None, offset: int,
              limit: int) -> dict[str, Any]:
    for s in statuses or []:
        if s not in JOB_STATUSES:
            raise BodyError(f"unknown job status {s!r}; the statuses are: "
                            f"{', '.join(JOB_STATUSES)}", "status")
    store = JobStore(ws)
    states = store.all()[::-1]  # newest first
    if statuses:
        states = [s for s in states if s.status in statuses]
    page = states[offset : offset + limit]
    return {"jobs": [job_dict(s, store, root_dir) for s in page], "total": len(states),
            "offset": offset}


def get_job(ws: Workspace, root_dir: str, ref: str) -> dict[str, Any]:
    store = JobStore(ws)
    return job_dict(store.load(store.resolve(ref)), store, root_dir)


def cancel_job(ws: Workspace, root_dir: str, ref: str) -> dict[str, Any]:
    store = JobStore(ws)
    job_id = store.resolve(ref)
    state = store.load(job_id)
    if state.status in TERMINAL:
        raise JobStateConflict(
            f"job {job_id} is already {state.status}; there is nothing to cancel")
    store.request_cancel(job_id)
    return job_dict(state, store, root_dir)


def job_log(ws: Workspace, ref: str, offset: int, max_bytes: int) -> dict[str, Any]:
    """A piece of the job's log from byte ``offset``, cut at a whole UTF-8 character."""
    store = JobStore(ws)
    job_id = store.resolve(ref)
    state = store.load(job_id)  # before reading: "complete" must not race the last write
    path = store.dir(job_id) / "job.log"
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if offset > size:
                raise BodyError(f"offset {offset} is past the end of the log ({size} bytes)",
                                "offset")
            f.seek(offset)
            data = f.read(max_bytes)
    except FileNotFoundError:
        if offset:
            raise BodyError(f"offset {offset} is past the end of the log (0 bytes)",
                            "offset") from None
        size, data = 0, b""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=False)
    pending = len(decoder.getstate()[0])  # bytes of a character cut by the read
    next_offset = offset + len(data) - pending
    return {"job_id": job_id, "offset": offset, "next_offset": next_offset, "size": size,
            "text": text, "complete": state.terminal and next_offset >= size}


def notebook_parameters(root_dir: str, raw: str) -> dict[str, Any]:
    path, rel = confine(root_dir, raw, "notebook", "path", suffix=".ipynb")
    declared = read_parameters(path)
    parameters = []
    for p in declared or []:
        item = {"name": p.name, "type": p.type_name,
                "default": None if p.type_name == "other" else jsonable(p.default),
                "source": p.source}
        if p.comment:
            item["help"] = p.comment
        parameters.append(item)
    return {"path": rel, "has_parameters_cell": declared is not None, "parameters": parameters}
