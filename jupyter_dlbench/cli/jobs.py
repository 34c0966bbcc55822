"""``dlbench run``, ``dlbench jobs …``, ``dlbench resources``, ``dlbench worker``."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from ..errors import InvalidInput
from ..execution.jobs import JobState, JobStore
from ..execution.notebooks import parse_cli_params
from ..execution.scheduler import LocalScheduler
from ..execution.submit import submit_notebook
from .output import print_json, print_table
from .runs import workspace


def add_job_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="a parameter of the notebook's parameters cell (repeatable)")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--gpus", type=float, default=0.0, help="GPUs per run: 0, a fraction like 0.25, or whole GPUs")
    p.add_argument("--cpus", type=float, default=1.0)
    p.add_argument("--retries", type=int, default=0, help="run a failed or lost job again up to N times")
    p.add_argument("--project")
    p.add_argument("--name")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    p.add_argument("--timeout", type=float, help="per-cell timeout in seconds")
    p.add_argument("--ray-address", help="Ray cluster address for --executor ray")
    p.add_argument("--no-parameters-cell", action="store_true",
                   help="accept a notebook without a cell tagged 'parameters'")
    p.add_argument("--wait", action="store_true", help="follow the job and exit non-zero if it fails")


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="run a notebook as a tracked job")
    run.add_argument("notebook")
    add_job_options(run)
    run.set_defaults(handler=cmd_run)

    jobs = sub.add_parser("jobs", help="the job queue")
    jsub = jobs.add_subparsers(dest="jobs_command", metavar="SUBCOMMAND")
    jsub.required = True
    ls = jsub.add_parser("ls", help="list jobs")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_ls)
    show = jsub.add_parser("show", help="one job")
    show.add_argument("job")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)
    logs = jsub.add_parser("logs", help="a job's log")
    logs.add_argument("job")
    logs.add_argument("--follow", "-f", action="store_true")
    logs.set_defaults(handler=cmd_logs)
    cancel = jsub.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("job")
    cancel.set_defaults(handler=cmd_cancel)

    res = sub.add_parser("resources", help="GPUs, what holds each, and the queue")
    res.add_argument("--json", action="store_true")
    res.set_defaults(handler=cmd_resources)

    worker = sub.add_parser("worker", help="run the local scheduler in the foreground")
    worker.add_argument("--concurrency", type=int, help="jobs at once (default: CPU count)")
    worker.set_defaults(handler=cmd_worker)


def submit_from_args(args: argparse.Namespace, notebook: str, params: dict[str, Any] | None = None,
                     **extra: Any) -> JobState:
    given = parse_cli_params(args.param) if params is None else params
    return submit_notebook(
        workspace(args), notebook, given, executor=args.executor, gpus=args.gpus, cpus=args.cpus,
        retries=args.retries, project=args.project, name=args.name,
        allow_no_parameters_cell=args.no_parameters_cell, kernel_name=args.kernel,
        timeout_s=args.timeout, ray_address=args.ray_address, **extra)


def cmd_run(args: argparse.Namespace) -> int:
    state = submit_from_args(args, args.notebook)
    print(state.job_id)
    if not args.wait:
        print(f"queued; a running JupyterLab or `dlbench worker` picks it up "
              f"(follow with `dlbench jobs logs {state.job_id} -f`)", file=sys.stderr)
        return 0
    return wait_for(args, [state.job_id])


def wait_for(args: argparse.Namespace, job_ids: list[str]) -> int:
    """Follow jobs with a progress bar; run them here when no scheduler is running."""
    from tqdm import tqdm

    ws = workspace(args)
    store = JobStore(ws)
    bar = tqdm(total=len(job_ids), unit="job", desc="jobs", file=sys.stderr, dynamic_ncols=True)

    def progress(states: list[JobState]) -> None:
        done = sum(s.terminal for s in states)
        counts: dict[str, int] = {}
        for s in states:
            counts[s.status] = counts.get(s.status, 0) + 1
        bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        bar.update(done - bar.n)

    scheduler = LocalScheduler(ws, only=job_ids, concurrency=getattr(args, "concurrency", None))
    try:
        if scheduler.acquire(wait=False):
            try:
                final = scheduler.run_until_done(job_ids, progress=progress)
            finally:
                scheduler.release()
        else:
            while True:
                final = [store.load(j) for j in job_ids]
                progress(final)
                if all(s.terminal for s in final):
                    break
                time.sleep(0.5)
    finally:
        bar.close()
    code = 0
    for s in final:
        line = f"{s.job_id}: {s.status}" + (f" (run {s.run_id})" if s.run_id else "")
        if s.error:
            line += f": {s.error}"
            code = 1
        elif s.status != "finished":
            code = 1
        print(line)
    return code


def _job_rows(states: list[JobState]) -> list[list[Any]]:
    rows = []
    for s in states:
        took = (s.ended_at or time.time()) - s.started_at if s.started_at else None
        rows.append([s.job_id, s.status, s.spec.notebook.rsplit("/", 1)[-1], s.spec.executor,
                     ",".join(s.gpu_ids) or "-", s.run_id, f"{took:.1f}s" if took is not None else "",
                     json.dumps(s.spec.params)[:60], (s.error or "")[:80]])
    return rows


def cmd_ls(args: argparse.Namespace) -> int:
    states = JobStore(workspace(args)).all()
    if args.json:
        print_json([s.to_dict() for s in states])
        return 0
    print_table(["job", "status", "notebook", "executor", "gpus", "run", "time", "params", "error"],
                _job_rows(states), title=f"{len(states)} jobs")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = JobStore(workspace(args))
    state = store.load(store.resolve(args.job))
    if args.json:
        print_json(state.to_dict())
    else:
        print_table(["field", "value"], [[k, v] for k, v in state.to_dict().items()], title=state.job_id)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    store = JobStore(workspace(args))
    job_id = store.resolve(args.job)
    path = store.dir(job_id) / "job.log"
    pos = 0
    while True:
        if path.exists():
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos += len(data)
            sys.stdout.write(data.decode("utf-8", errors="replace"))
            sys.stdout.flush()
        if not args.follow or store.load(job_id).terminal and not (path.exists() and path.stat().st_size > pos):
            return 0
        time.sleep(0.5)


def cmd_cancel(args: argparse.Namespace) -> int:
    store = JobStore(workspace(args))
    job_id = store.resolve(args.job)
    state = store.load(job_id)
    if state.terminal:
        raise InvalidInput(f"job {job_id} is already {state.status}; nothing to cancel")
    store.request_cancel(job_id)
    print(f"cancel requested for {job_id} ({state.status})")
    return 0


def cmd_resources(args: argparse.Namespace) -> int:
    ws = workspace(args)
    scheduler = LocalScheduler(ws)
    states = JobStore(ws).all()
    for s in states:
        if s.status in ("starting", "running") and s.gpu_ids:
            try:
                scheduler.allocator.restore(s.job_id, s.gpu_ids, s.spec.gpus)
            except Exception:  # noqa: BLE001 - a report, not a scheduler: show what we can
                pass
    holders = scheduler.allocator.holders()
    free = scheduler.allocator.free_capacity()
    queued = [s.job_id for s in states if s.status == "queued"]
    if args.json:
        print_json({"gpus": [{"id": g, "free": free.get(g), "holders": holders.get(g, [])}
                             for g in scheduler.gpu_ids],
                    "concurrency": scheduler.concurrency, "queued": queued})
        return 0
    print_table(["gpu", "free", "held by"],
                [[g, free.get(g), ", ".join(f"{j} ({share:g})" for j, share in holders.get(g, []))]
                 for g in scheduler.gpu_ids] or [["none", "", "CPU only (set DLBENCH_GPUS=N for logical GPUs)"]],
                title="GPUs")
    print(f"{len(queued)} queued job(s); local concurrency {scheduler.concurrency}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    ws = workspace(args)
    scheduler = LocalScheduler(ws, concurrency=args.concurrency)
    if not scheduler.acquire(wait=False):
        raise InvalidInput(f"another scheduler is already running for {ws.root} "
                           f"({(ws.root / 'scheduler.lock').read_text().strip()})")
    print(f"dlbench worker on {ws.root}: {len(scheduler.gpu_ids)} GPU(s), concurrency "
          f"{scheduler.concurrency}; Ctrl-C stops it (running jobs keep running)", file=sys.stderr)
    stop = threading.Event()
    try:
        scheduler.run_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.release()
    return 0
