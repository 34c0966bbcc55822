"""``dlbench data check|clean``: quality checks and cleansing of dataset versions.

Kept apart from ``cli/data.py`` (versioning); ``register_into`` adds the two subcommands to the
``data`` subparsers there.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import data
from ..data.clean import DEFAULT_DROP, DROP_KINDS, clean_version
from ..errors import InvalidInput
from ..store import Workspace
from .output import print_json, print_table


def register_into(dsub: Any) -> None:
    chk = dsub.add_parser(
        "check", help="quality report of a version (or a folder): nulls, duplicates, bad types, "
        "corrupt images; exits 1 when it finds errors")
    chk.add_argument("target", metavar="NAME@VERSION|PATH",
                     help="a dataset version (digits@v2, digits = latest) or a folder/file on disk")
    chk.add_argument("--label", metavar="COLUMN", help="label column: report its distribution")
    chk.add_argument("--json", action="store_true", help="print JSON for scripts")
    chk.set_defaults(handler=cmd_check)

    cln = dsub.add_parser(
        "clean", help="commit a cleaned child version, recording what was removed and why")
    cln.add_argument("ref", metavar="NAME@VERSION")
    cln.add_argument("--drop", default=",".join(DEFAULT_DROP), metavar="KINDS",
                     help=f"comma-separated, from {', '.join(DROP_KINDS)} (default: all)")
    cln.add_argument("-m", "--message", help="version message (default: what was removed)")
    cln.add_argument("--json", action="store_true", help="print JSON for scripts")
    cln.set_defaults(handler=cmd_clean)


def _ws(args: argparse.Namespace) -> Workspace:
    return Workspace.find(create=True) if not args.workspace else Workspace.find_at(args.workspace)


def cmd_check(args: argparse.Namespace) -> int:
    from ..data.checks import check  # loaded only here: every `dlbench data ...` registers us

    target = Path(args.target)
    if "@" not in args.target and target.exists():
        report = check(target, label_column=args.label)
    else:
        name, version = data.parse_ref(args.target)
        ds = data.open_dataset(_ws(args), name, version)
        report = check(ds.path, label_column=args.label, manifest=ds.manifest)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report)
    return 0 if report.ok else 1


def cmd_clean(args: argparse.Namespace) -> int:
    drop = [d.strip() for d in args.drop.split(",") if d.strip()]
    if not drop:
        raise InvalidInput(f"--drop needs at least one of {', '.join(DROP_KINDS)}")
    name, version = data.parse_ref(args.ref)
    ws = _ws(args)
    ds = data.open_dataset(ws, name, version)
    new, result = clean_version(ws, ds, drop=drop, message=args.message)
    if args.json:
        print_json({"version": new.to_json(), "record": result.to_dict()})
        return 0
    if new.created:
        print(f"{new.ref} (parent {ds.ref}): {result.message}")
    else:
        print(f"{ds.ref}: {result.message}; no new version")
    rows = [[f["path"], f["reason"]] for f in result.removed_files]
    rows += [[r.file, f"{r.count} rows: {r.reason}"] for r in result.removed_rows]
    if rows:
        print_table(["removed", "why"], rows)
    return 0
