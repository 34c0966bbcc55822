"""``dlbench sweep NOTEBOOK lr=1e-3,1e-4 …`` and ``dlbench sweeps ls|show|cancel|resume``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..execution.notebooks import read_parameters
from ..sweeps import Sweep, list_sweeps, load_sweep, parse_spec, start_sweep
from .output import print_json, print_table
from .runs import workspace

SPEC_HELP = """\
spec grammar:
  NAME=V1,V2,...        a list of values: numbers (1e-3), true/false, words, "quoted, text"
  NAME=LOW..HIGH[:log|:int|:uniform]
                        a range, sampled by --random N or --method tpe (not by the grid)
  in a shell, quote a token whose values hold quotes: 'opt="adam w",sgd'
early stopping (on the objective as the notebook logs it per step):
  median                stop a trial whose best so far is below the median of finished
                        trials at the same step (after 2 steps and 2 finished trials)
  asha                  successive halving: at steps 1, 3, 9, ... keep the top third
examples:
  dlbench sweep train.ipynb lr=1e-3,1e-4 batch=32,64
  dlbench sweep train.ipynb lr=1e-5..1e-1:log dropout=0..0.5 --random 16 --seed 1
  dlbench sweep train.ipynb lr=1e-5..1e-1:log --method tpe --max-runs 20 --objective val_acc:max
"""


def register(sub: Any) -> None:
    p = sub.add_parser("sweep", help="run a notebook over a grid or random/TPE search",
                       epilog=SPEC_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook")
    p.add_argument("spec", nargs="+", metavar="NAME=VALUES", help="the parameter space (see below)")
    p.add_argument("--method", choices=["grid", "random", "tpe"],
                   help="grid (default when all are lists), random, or tpe (Bayesian, Optuna)")
    p.add_argument("--random", type=int, metavar="N", dest="random_n", help="N random trials")
    p.add_argument("--seed", type=int, help="seed for random/TPE sampling (same seed, same trials)")
    p.add_argument("--max-runs", type=int, metavar="N", help="run at most N trials")
    p.add_argument("--concurrency", type=int, default=2, metavar="K", help="trials at once (default 2)")
    p.add_argument("--gpus", type=float, default=0.0, help="GPUs per trial: 0, a fraction, or whole GPUs")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", help="Ray cluster address for --executor ray")
    p.add_argument("--objective", default="val_acc:max", metavar="METRIC:max|min",
                   help="the metric to optimise (default val_acc:max)")
    p.add_argument("--early-stop", choices=["median", "asha"], help="stop clearly bad trials early")
    p.add_argument("--fresh-kernel", action="store_true",
                   help="start a new kernel for every trial (default: a trial reuses the previous "
                        "trial's kernel with its namespace reset, which saves a kernel start)")
    p.add_argument("--name")
    p.add_argument("--project")
    p.add_argument("--dry-run", action="store_true", help="print the trials and run nothing")
    p.add_argument("--no-wait", action="store_true",
                   help="return at once; a background process drives the sweep")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler=cmd_sweep)

    sweeps = sub.add_parser("sweeps", help="list, inspect, cancel and resume sweeps")
    ssub = sweeps.add_subparsers(dest="sweeps_command", metavar="SUBCOMMAND")
    ssub.required = True
    ls = ssub.add_parser("ls", help="list sweeps")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_ls)
    show = ssub.add_parser("show", help="one sweep's trials")
    show.add_argument("sweep", help="a sweep id, unique prefix or name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)
    cancel = ssub.add_parser("cancel", help="cancel a sweep's queued and running trials")
    cancel.add_argument("sweep")
    cancel.set_defaults(handler=cmd_cancel)
    resume = ssub.add_parser("resume", help="drive a sweep whose driver is gone (e.g. after Ctrl-C)")
    resume.add_argument("sweep")
    resume.add_argument("--no-wait", action="store_true")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(handler=cmd_resume)


def _summary(sweep: Sweep) -> dict[str, Any]:
    return {"sweep_id": sweep.id, "name": sweep.name, "notebook": sweep.notebook,
            "method": sweep.spec.method, "status": sweep.status, "objective": sweep.objective,
            "early_stop": sweep.early_stop, "n_runs": sweep.spec.n_runs,
            "best": sweep.best, "trials": sweep.trials()}


def _print_trials(sweep: Sweep) -> None:
    frame = sweep.table()
    shown = [c for c in frame.columns if c not in ("job_id",)]
    rows = [[r.get(c) for c in shown] for r in frame.to_dict(orient="records")]
    print_table(shown, rows, title=f"sweep {sweep.id} ({sweep.name}): {sweep.status}")
    best = sweep.best
    if best is not None and sweep.objective:
        print(f"best: trial {best['trial']} {sweep.objective[0]}={best['objective']:.6g} "
              f"run {best['run_id']} params {best['params']}")


def _finish(sweep: Sweep, as_json: bool) -> int:
    if as_json:
        print_json(_summary(sweep))
    else:
        _print_trials(sweep)
    bad = [r for r in sweep.trials() if r["status"] in ("failed", "lost")]
    return 1 if bad or not sweep.done else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    spec = parse_spec(args.spec, method=args.method, random_n=args.random_n, seed=args.seed,
                      max_runs=args.max_runs)
    if args.dry_run:
        spec = spec.validate_against(read_parameters(args.notebook), notebook=args.notebook)
        trials = spec.expand()
        if args.json:
            print_json({"method": spec.method, "n_runs": spec.n_runs, "trials": trials})
            return 0
        names = spec.names
        print(f"{spec.method} search, {spec.n_runs} trial(s); dry run, nothing started")
        print_table(["trial", *names], [[i, *(t[n] for n in names)] for i, t in enumerate(trials)])
        if spec.method == "tpe" and spec.n_runs > len(trials):
            print(f"the other {spec.n_runs - len(trials)} trial(s) are chosen by TPE from the results")
        return 0
    sweep = start_sweep(workspace(args), args.notebook, spec, concurrency=args.concurrency,
                        gpus=args.gpus, executor=args.executor, objective=args.objective,
                        early_stop=args.early_stop, name=args.name, ray_address=args.ray_address,
                        project=args.project, background=not args.no_wait, detach=args.no_wait,
                        fresh_kernel=args.fresh_kernel)
    return _follow(sweep, args)


def _follow(sweep: Sweep, args: argparse.Namespace) -> int:
    if args.no_wait:
        if args.json:
            print_json({"sweep_id": sweep.id, "name": sweep.name})
        else:
            print(sweep.id)
            print(f"running in the background; follow with `dlbench sweeps show {sweep.id}`",
                  file=sys.stderr)
        return 0
    print(f"sweep {sweep.id} ({sweep.name}): {sweep.spec.n_runs} trial(s), "
          f"{sweep.concurrency} at a time", file=sys.stderr)
    try:
        sweep.wait(progress=not args.json)
    except KeyboardInterrupt:
        print(f"\nstopped following sweep {sweep.id}: running trials go on, no new ones start; "
              f"`dlbench sweeps resume {sweep.id}` continues it, `dlbench sweeps cancel "
              f"{sweep.id}` stops it", file=sys.stderr)
        return 130
    return _finish(sweep, args.json)


def cmd_ls(args: argparse.Namespace) -> int:
    sweeps = list_sweeps(workspace(args))
    if args.json:
        print_json([{k: v for k, v in _summary(s).items() if k != "trials"} for s in sweeps])
        return 0
    rows = []
    for s in sweeps:
        trials = s.trials()
        ended = sum(t["status"] in ("finished", "failed", "cancelled", "pruned", "lost") for t in trials)
        best = s.best
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.meta.created_at))
        rows.append([s.id, s.name, s.spec.method, s.status, f"{ended}/{s.spec.n_runs}",
                     f"{s.objective[0]}:{s.objective[1]}" if s.objective else "",
                     best["objective"] if best else None, created])
    print_table(["sweep", "name", "method", "status", "trials", "objective", "best", "created"], rows,
                title=f"{len(rows)} sweep(s)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    sweep = load_sweep(workspace(args), args.sweep)
    if args.json:
        print_json(_summary(sweep))
    else:
        _print_trials(sweep)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    sweep = load_sweep(workspace(args), args.sweep)
    if sweep.done:
        print(f"sweep {sweep.id} is already {sweep.status}; nothing to cancel")
        return 0
    sweep.cancel()
    print(f"cancel requested for sweep {sweep.id}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    sweep = load_sweep(workspace(args), args.sweep)
    if sweep.done:
        return _finish(sweep, args.json)
    if sweep.driving():
        print(f"sweep {sweep.id} is already being driven by another process; following it",
              file=sys.stderr)
    elif args.no_wait:
        from ..sweeps.driver import spawn_driver

        spawn_driver(sweep)
    return _follow(sweep, args)
