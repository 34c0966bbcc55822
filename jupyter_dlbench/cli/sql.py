"""``dlbench sql "select …"``: read-only SQL over the documented views."""

from __future__ import annotations

import argparse
from typing import Any

from ..tracking import query
from .output import frame_records, print_json, print_table
from .runs import workspace


def register(sub: Any) -> None:
    p = sub.add_parser("sql", help="run a read-only SELECT over runs, params, metrics, artifacts")
    p.add_argument("statement", help='e.g. "select key, count(*) from metrics group by key"')
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler=cmd_sql)


def cmd_sql(args: argparse.Namespace) -> int:
    with query.catalog(workspace(args), stale_ok=True) as session:
        frame = session.user_query(args.statement)
    if args.json:
        print_json(frame_records(frame))
    else:
        print_table([str(c) for c in frame.columns], frame.values.tolist(),
                    title=f"{len(frame)} rows")
    return 0
