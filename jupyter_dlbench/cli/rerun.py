"""``dlbench rerun RUN`` and ``dlbench batch NB…``: reproduce and fan out notebook jobs."""

from __future__ import annotations

import argparse
from typing import Any

from ..execution.notebooks import parse_cli_params
from ..execution.rerun import rerun_run
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
    state = rerun_run(
        workspace(args), args.run, parse_cli_params(args.param), executor=args.executor,
        gpus=args.gpus, cpus=args.cpus, retries=args.retries, kernel_name=args.kernel,
        timeout_s=args.timeout, ray_address=args.ray_address,
        **{k: v for k, v in (("project", args.project), ("name", args.name)) if v})
    print(state.job_id)
    return wait_for(args, [state.job_id]) if args.wait else 0


def cmd_batch(args: argparse.Namespace) -> int:
    ids = [submit_from_args(args, nb).job_id for nb in args.notebooks]
    for job_id in ids:
        print(job_id)
    return wait_for(args, ids) if args.wait else 0
