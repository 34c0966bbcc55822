"""``dlbench data add|ls|versions|show|diff|checkout|verify|gc|used-by``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import data
from ..store import Workspace
from .output import frame_records, print_json, print_table


def register(sub: Any) -> None:
    p = sub.add_parser("data", help="versioned datasets: add, list, diff, checkout, verify, gc")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True

    add = dsub.add_parser("add", help="snapshot a folder or file as the next version of NAME")
    add.add_argument("name", help="dataset name (letters, digits, '.', '_', '-')")
    add.add_argument("path", help="folder or file to snapshot")
    add.add_argument("-m", "--message", default="", help="what changed in this version")
    add.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add.add_argument("--link", action="store_true",
                     help="hard-link files into the store instead of copying them (fast, no extra "
                     "space); the files become read-only, as with DVC's hardlink cache")
    add.add_argument("--json", action="store_true", help="print JSON for scripts")
    add.set_defaults(handler=cmd_add)

    ls = dsub.add_parser("ls", help="list datasets with their latest version")
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    ls.set_defaults(handler=cmd_ls)

    versions = dsub.add_parser("versions", help="list the versions of one dataset")
    versions.add_argument("name")
    versions.add_argument("--json", action="store_true", help="print JSON for scripts")
    versions.set_defaults(handler=cmd_versions)

    show = dsub.add_parser("show", help="one version: message, parent, files (NAME@v2 or NAME@latest)")
    show.add_argument("ref", metavar="NAME@VERSION")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(handler=cmd_show)

    diff = dsub.add_parser("diff", help="files added, removed and modified between two versions")
    diff.add_argument("name")
    diff.add_argument("a", metavar="FROM", help="older version (v1, latest)")
    diff.add_argument("b", metavar="TO", help="newer version")
    diff.add_argument("--json", action="store_true", help="print JSON for scripts")
    diff.set_defaults(handler=cmd_diff)

    co = dsub.add_parser("checkout", help="write a version's files into DIR (read-only)")
    co.add_argument("ref", metavar="NAME@VERSION")
    co.add_argument("dir", metavar="DIR")
    co.add_argument("--force", action="store_true", help="replace the contents of a non-empty DIR")
    co.add_argument("--json", action="store_true", help="print JSON for scripts")
    co.set_defaults(handler=cmd_checkout)

    verify = dsub.add_parser("verify", help="re-hash the objects of every version and report corruption "
                                "(exits 1 when something is broken)")
    verify.add_argument("name", nargs="?", help="only this dataset")
    verify.add_argument("--json", action="store_true", help="print JSON for scripts")
    verify.set_defaults(handler=cmd_verify)

    gc = dsub.add_parser("gc", help="delete objects that no version, run, artifact or job references")
    gc.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    gc.add_argument("--grace", type=float, default=data.maintenance.DEFAULT_GRACE_S, metavar="SECONDS",
                    help="keep unreferenced objects younger than this (default 3600: an add or a run "
                    "may still be about to record them)")
    gc.add_argument("--json", action="store_true", help="print JSON for scripts")
    gc.set_defaults(handler=cmd_gc)

    used = dsub.add_parser("used-by", help="runs that used or produced NAME@VERSION")
    used.add_argument("ref", metavar="NAME@VERSION")
    used.add_argument("--json", action="store_true", help="print JSON for scripts")
    used.set_defaults(handler=cmd_used_by)

    from . import data_quality  # check and clean live beside versioning, in their own module

    data_quality.register_into(dsub)


def _ws(args: argparse.Namespace) -> Workspace:
    return Workspace.find(create=True) if not args.workspace else Workspace.find_at(args.workspace)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def cmd_add(args: argparse.Namespace) -> int:
    result = data.add(_ws(args), args.name, args.path, message=args.message,
                      progress=not (args.quiet or args.json), link=args.link)
    v, st = result.version, result.stats
    if args.json:
        print_json({**v.to_json(), "stats": st.__dict__ if st else None})
        return 0
    if v.created:
        print(f"{v.ref}: {v.file_count} files, {_size(v.total_bytes)} (manifest {v.manifest_oid[:12]})")
    else:
        print(f"{v.ref}: unchanged, no new version (manifest {v.manifest_oid[:12]})")
    if st:
        print(f"hashed {st.hashed} files, reused {st.reused} from the stat cache, "
              f"stored {st.objects_written} new objects")
    if st and st.linked:
        print(f"linked {st.linked} files into the store; they are now read-only: to change one, "
              "save an edited copy over it (editing it in place corrupts the stored version)")
    if st and st.copied_instead:
        print(f"copied {st.copied_instead} files instead of linking them (on another file system than "
              "the workspace, or not owned by you)")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    with _ws(args).catalog.session(write=True) as session:
        frame = data.list_datasets(session)
    if args.json:
        print_json(frame_records(frame))
        return 0
    rows = [[r["name"], r["latest"], r["versions"], r["file_count"], _size(r["total_bytes"]), r["updated_at"]]
            for r in frame.to_dict(orient="records")]
    print_table(["name", "latest", "versions", "files", "size", "updated"], rows,
                title=f"{len(rows)} datasets" if len(rows) != 1 else "1 dataset")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    with _ws(args).catalog.session(write=True) as session:
        versions = data.list_versions(session, args.name)
    if args.json:
        print_json([v.to_json() for v in versions])
        return 0
    rows = [[v.version, v.parent, v.file_count, _size(v.total_bytes), _when(v.created_at), v.producer_run_id,
             v.message] for v in reversed(versions)]
    print_table(["version", "parent", "files", "size", "created", "producer run", "message"], rows,
                title=f"dataset {args.name}")
    return 0


def _when(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def cmd_show(args: argparse.Namespace) -> int:
    name, version = data.parse_ref(args.ref)
    ws = _ws(args)
    with ws.catalog.session(write=True) as session:
        v = data.resolve(session, name, version)
    manifest = data.versions.load_manifest(ws, v)
    if args.json:
        print_json({**v.to_json(), "files": manifest.to_json()})
        return 0
    print_table(["field", "value"], [[k, val] for k, val in v.to_json().items() if k not in ("created",)],
                title=v.ref)
    rows = [[p, _size(e.size) if e.symlink is None else "", e.oid[:12] if e.oid else f"-> {e.symlink}"]
            for p, e in list(manifest.entries.items())[:200]]
    print_table(["path", "size", "object"], rows,
                title=f"{len(manifest)} files" + (" (first 200)" if len(manifest) > 200 else ""))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    ws = _ws(args)
    with ws.catalog.session(write=True) as session:
        result = data.diff_versions(ws, session, args.name, args.a, args.b)
    if args.json:
        print_json(result)
        return 0
    rows = [["+", c["path"], "", _size(c["new_size"])] for c in result["added"]]
    rows += [["-", c["path"], _size(c["old_size"]), ""] for c in result["removed"]]
    rows += [["M", c["path"], _size(c["old_size"]), _size(c["new_size"])] for c in result["modified"]]
    rows.sort(key=lambda r: r[1])
    s = result["summary"]
    print(f"{args.name} {result['from']} → {result['to']}: {s['added']} added, {s['removed']} removed, "
          f"{s['modified']} modified")
    if rows:
        print_table(["", "path", "old size", "new size"], rows)
    return 0


def cmd_checkout(args: argparse.Namespace) -> int:
    v, stats = data.checkout_ref(_ws(args), args.ref, args.dir, force=args.force)
    if args.json:
        print_json({"ref": v.ref, "dir": args.dir, **stats.__dict__})
        return 0
    print(f"{v.ref} → {args.dir}: {stats.files} files ({stats.linked} hard-linked, {stats.copied} copied, "
          f"{stats.symlinks} symlinks), read-only")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    ws = _ws(args)
    with ws.catalog.session(write=True) as session:
        if args.name:
            data.list_versions(session, args.name)  # an unknown name is an error, not "all fine"
        report = data.verify(ws, session, name=args.name)
    if args.json:
        print_json(report.to_json())
    elif report.ok:
        print(f"ok: {report.checked} objects verified")
    else:
        print(f"{len(report.problems)} of {report.checked} objects are broken:")
        for p in report.problems:
            print(f"  {p.describe()}")
    return 0 if report.ok else 1


def cmd_gc(args: argparse.Namespace) -> int:
    if args.grace < 0:
        from ..errors import InvalidInput

        raise InvalidInput(f"--grace must be a number of seconds >= 0, got {args.grace}")
    from ..tracking import query  # numpy and Arrow: only the commands that read runs load them

    ws = _ws(args)
    with query.catalog(ws) as session:  # fold run journals in first: their artifacts count
        report = data.gc(ws, session, dry_run=args.dry_run, grace_s=args.grace)
    if args.json:
        print_json(report.to_json())
        return 0
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(report.removed)} objects ({_size(report.bytes_freed)}); "
          f"{report.referenced} referenced, {report.kept_recent} unreferenced but recent kept")
    if args.dry_run:
        for oid in report.removed[:100]:
            print(f"  {oid}")
        if len(report.removed) > 100:
            print(f"  … and {len(report.removed) - 100} more")
    sys.stdout.flush()
    return 0


def cmd_used_by(args: argparse.Namespace) -> int:
    from ..tracking import query

    name, version = data.parse_ref(args.ref)
    ws = _ws(args)
    with query.catalog(ws) as session:
        v = data.resolve(session, name, version)
        runs = data.used_by(session, v.name, v.version)
    if args.json:
        print_json(runs)
        return 0
    print_table(["run", "direction", "name", "status", "project"],
                [[r["run_id"], r["direction"], r["run_name"], r["status"], r["project"]] for r in runs],
                title=f"runs using {v.ref}")
    return 0
