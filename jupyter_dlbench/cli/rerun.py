"""``dlbench rerun RUN`` and ``dlbench batch NB…``: reproduce and fan out notebook jobs."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidInput
from ..execution.notebooks import parse_cli_params
from ..tracking import query
from .jobs import add_job_options, submit_from_args, wait_for
from .runs import workspace


def register(sub: Any) -> None:
    rerun = sub.add_parser("rerun", help="run a past run again: same notebook snapshot and params")
    rerun.add_argument("run", help="a run id or unique prefix")
    add_job_options(rerun)
    rerun.set_defaults(handler=cmd_rerun)
    batch = sub.add_parser("batch", help="run several notebooks as jobs with the same params")
    batch.add_argument("notebooks", nargs="+")
    add_job_options(batch)
    batch.set_defaults(handler=cmd_batch)


def cmd_rerun(args: argparse.Namespace) -> int:
    ws = workspace(args)
    with query.catalog(ws) as session:
        info = query.run_details(session, args.run)
    if not info.get("snapshot_oid") or not info.get("notebook_path"):
        raise InvalidInput(f"run {info['run_id']} has no stored notebook snapshot, so it cannot be rerun")
    if not str(info["notebook_path"]).endswith(".ipynb"):
        raise InvalidInput(f"run {info['run_id']} ran {info['notebook_path']!r}, not a notebook; "
                           "only notebook runs can be rerun as jobs")
    params = {k: v for k, v in info["params"].items()}
    params.update(parse_cli_params(args.param))
    args.project = args.project or info.get("project")
    args.name = args.name or info.get("name")
    args.no_parameters_cell = True if not _has_cell(ws, info["snapshot_oid"]) else args.no_parameters_cell
    state = submit_from_args(args, info["notebook_path"], params=params,
                             snapshot_oid=info["snapshot_oid"], rerun_of=info["run_id"])
    print(state.job_id)
    return wait_for(args, [state.job_id]) if args.wait else 0


def _has_cell(ws: Any, oid: str) -> bool:
    import json

    nb = json.loads(ws.objects.read_bytes(oid))
    return any("parameters" in (c.get("metadata") or {}).get("tags", []) for c in nb.get("cells", []))


def cmd_batch(args: argparse.Namespace) -> int:
    ids = [submit_from_args(args, nb).job_id for nb in args.notebooks]
    for job_id in ids:
        print(job_id)
    return wait_for(args, ids) if args.wait else 0
