"""``dlbench doctor [--verify] [--rebuild]``."""

from __future__ import annotations

import argparse
from typing import Any

from .. import data
from ..tracking import doctor
from .output import print_json
from .runs import workspace


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check the workspace; --rebuild recreates the catalog from journals")
    p.add_argument("--verify", action="store_true", help="also re-hash every referenced object")
    p.add_argument("--rebuild", action="store_true",
                   help="rebuild the catalog from run folders (the old file is kept beside it)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    ws = workspace(args)
    if args.rebuild:
        restored: list[int] = []
        r = doctor.rebuild(ws, also=lambda w, s: restored.append(data.versions.reindex(w, s)))
        if args.json:
            print_json({"runs": r.runs, "params": r.params, "metric_points": r.metric_points,
                        "artifacts": r.artifacts, "dataset_versions": sum(restored), "previous": str(r.previous) if r.previous else None,
                        "problems": r.problems})
        else:
            print(f"rebuilt {ws.catalog.path}: {r.runs} runs, {r.params} params, "
                  f"{r.metric_points} metric points, {r.artifacts} artifacts, "
                  f"{sum(restored)} dataset versions")
            if r.previous:
                print(f"the previous catalog was kept as {r.previous}")
            for run_id, problem in r.problems.items():
                print(f"warning: run {run_id}: {problem}")
        return 0
    report = doctor.check(ws, verify_objects=args.verify)
    if args.json:
        print_json({"ok": report.ok, "runs": report.runs, "objects_checked": report.objects_checked,
                    "problems": report.problems, "notes": report.notes})
    else:
        print(f"workspace {ws.root}: {report.runs} runs, {report.objects_checked} object references checked")
        for note in report.notes:
            print(f"note: {note}")
        for problem in report.problems:
            print(f"problem: {problem}")
        print("ok" if report.ok else f"{len(report.problems)} problem(s) found")
    return 0 if report.ok else 1
