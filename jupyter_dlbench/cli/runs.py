"""``dlbench runs ls|show``."""

from __future__ import annotations

import argparse
from typing import Any

from ..store import Workspace
from ..tracking import query
from .output import frame_records, print_json, print_table


def register(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list and inspect tracked runs")
    rsub = runs.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")
    rsub.required = True
    ls = rsub.add_parser("ls", help="list runs with params and last metric values")
    ls.add_argument("--project", help="only runs of this project")
    ls.add_argument("--where", help='SQL filter, e.g. "params.lr < 0.01 and metrics.acc > 0.9"')
    ls.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50; 0 = all)")
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    ls.set_defaults(handler=cmd_ls)
    show = rsub.add_parser("show", help="everything recorded about one run")
    show.add_argument("run", help="a run id or a unique prefix of one")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(handler=cmd_show)


def workspace(args: argparse.Namespace) -> Workspace:
    return Workspace.find(create=True) if not args.workspace else Workspace.find_at(args.workspace)


def cmd_ls(args: argparse.Namespace) -> int:
    with query.catalog(workspace(args), stale_ok=True) as session:
        frame = query.runs_frame(session, project=args.project, where=args.where)
    if args.limit and args.limit > 0:
        frame = frame.head(args.limit)
    if args.json:
        print_json(frame_records(frame))
        return 0
    params = [c for c in frame.columns if c.startswith("params.")][:4]
    metrics = [c for c in frame.columns if c.startswith("metrics.") and not c.endswith((".min", ".max"))][:4]
    cols = ["run_id", "project", "name", "status", "started_at", "duration_s", *params, *metrics]
    rows = [[r.get(c) for c in cols] for r in frame.to_dict(orient="records")]
    headers = [c.replace("params.", "").replace("metrics.", "") for c in cols]
    print_table(headers, rows, title=f"{len(frame)} runs" if len(frame) != 1 else "1 run")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with query.catalog(workspace(args), stale_ok=True) as session:
        info = query.run_details(session, args.run)
    if args.json:
        print_json(info)
        return 0
    skip = {"params", "metrics", "artifacts", "environment", "hardware", "output_tail", "inputs", "outputs"}
    print_table(["field", "value"], [[k, v] for k, v in info.items() if k not in skip],
                title=f"run {info['run_id']}")
    if info["params"]:
        print_table(["param", "value"], [[k, v] for k, v in info["params"].items()], title="params")
    if info["metrics"]:
        print_table(["metric", "last", "step", "min", "max", "points"],
                    [[k, m["last"], m["last_step"], m["min"], m["max"], m["count"]]
                     for k, m in info["metrics"].items()], title="metrics")
    if info["artifacts"]:
        print_table(["artifact", "size", "object"],
                    [[a["path"], a["size"], a["oid"][:16]] for a in info["artifacts"]], title="artifacts")
    lineage = [["input", d["ref"]] for d in info.get("inputs") or []] + \
        [["output", d["ref"]] for d in info.get("outputs") or []]
    if lineage:
        print_table(["direction", "dataset version"], lineage, title="datasets")
    env = info.get("environment") or {}
    hw = info.get("hardware") or {}
    if env or hw:
        rows = [["python", env.get("python")], ["platform", env.get("platform")],
                *[[f"package {k}", v] for k, v in (env.get("packages") or {}).items()],
                ["host", hw.get("hostname")], ["cpus", hw.get("cpu_count")],
                ["memory GiB", (hw.get("memory_bytes") or 0) / 2**30],
                ["gpus", ", ".join(g.get("name", "?") for g in hw.get("gpus") or []) or "none"],
                ["CUDA_VISIBLE_DEVICES", hw.get("cuda_visible_devices")]]
        print_table(["environment", "value"], rows, title="environment and hardware")
    if info.get("output_tail"):
        print("--- output (tail) ---")
        print(info["output_tail"][-2000:])
    return 0
