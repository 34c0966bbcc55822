"""`dlbench data …` end to end, as a terminal user and a script (--json) meet it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.cli import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_data_commands_end_to_end(workspace_dir: Path, make_tree, write_tree, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    src = make_tree("digits", {"train/0.png": b"zero", "train/1.png": b"one", "labels.csv": "f,y\n"})
    code, out, _ = cli(capsys, "data", "add", "digits", str(src), "-m", "first cut")
    assert code == 0 and "digits@v1: 3 files" in out
    code, out, _ = cli(capsys, "data", "add", "digits", str(src))
    assert code == 0 and "unchanged, no new version" in out
    (src / "train/1.png").unlink()
    write_tree(src, {"train/2.png": b"two", "labels.csv": "f,y\n2,2\n"})
    added = cli_json(capsys, "data", "add", "digits", str(src), "-m", "more")
    assert added["version"] == "v2" and added["parent"] == "v1" and added["stats"]["reused"] == 1

    [row] = cli_json(capsys, "data", "ls")
    assert (row["name"], row["latest"], row["versions"], row["file_count"]) == ("digits", "v2", 2, 3)
    versions = cli_json(capsys, "data", "versions", "digits")
    assert [(v["version"], v["message"]) for v in versions] == [("v1", "first cut"), ("v2", "more")]
    shown = cli_json(capsys, "data", "show", "digits@v1")
    assert sorted(shown["files"]) == ["labels.csv", "train/0.png", "train/1.png"]
    assert cli_json(capsys, "data", "show", "digits@latest")["version"] == "v2"

    diff = cli_json(capsys, "data", "diff", "digits", "v1", "v2")
    assert [c["path"] for c in diff["added"]] == ["train/2.png"]
    assert [c["path"] for c in diff["removed"]] == ["train/1.png"]
    assert [(c["path"], c["old_size"], c["new_size"]) for c in diff["modified"]] == [("labels.csv", 4, 8)]
    code, out, _ = cli(capsys, "data", "diff", "digits", "v1", "v2")
    assert code == 0 and "1 added, 1 removed, 1 modified" in out

    dest = tmp_path / "co"
    co = cli_json(capsys, "data", "checkout", "digits@v1", str(dest))
    assert co["files"] == 3 and (dest / "train/1.png").read_bytes() == b"one"
    code, _, err = cli(capsys, "data", "checkout", "digits@v2", str(dest))
    assert code == 2 and "is not empty" in err
    cli_json(capsys, "data", "checkout", "digits@v2", str(dest), "--force")
    assert sorted(p.name for p in (dest / "train").iterdir()) == ["0.png", "2.png"]

    assert cli_json(capsys, "data", "verify")["ok"] is True
    gc = cli_json(capsys, "data", "gc", "--dry-run", "--grace", "0")
    assert gc["removed"] == [] and gc["dry_run"] is True

    with dlb.init(project="p") as run:
        dlb.dataset("digits", "v2")
    used = cli_json(capsys, "data", "used-by", "digits@v2")
    assert [(u["run_id"], u["direction"]) for u in used] == [(run.id, "input")]
    assert cli_json(capsys, "data", "used-by", "digits@v1") == []


def test_verify_exits_non_zero_and_names_the_broken_file(workspace_dir: Path, make_tree,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    src = make_tree("src", {"a.bin": b"\x00" * 64})
    cli(capsys, "data", "add", "d", str(src))
    shown = cli_json(capsys, "data", "show", "d@v1")
    obj = workspace_dir / "objects" / shown["files"]["a.bin"]["oid"][:2] / shown["files"]["a.bin"]["oid"][2:]
    os.chmod(obj, 0o644)
    obj.write_bytes(b"\x01" + b"\x00" * 63)
    code, out, _ = cli(capsys, "data", "verify")
    assert code == 1 and "corrupted" in out and "d@v1:a.bin" in out


def test_gc_removes_orphans_and_keeps_versions(workspace_dir: Path, make_tree,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = make_tree("src", {"a": "keep"})
    cli(capsys, "data", "add", "d", str(src))
    from jupyter_dlbench.store import Workspace

    orphan = Workspace.find().objects.put_bytes(b"orphan").oid
    dry = cli_json(capsys, "data", "gc", "--dry-run", "--grace", "0")
    assert dry["removed"] == [orphan]
    done = cli_json(capsys, "data", "gc", "--grace", "0")
    assert done["removed"] == [orphan] and done["dry_run"] is False
    assert cli_json(capsys, "data", "verify")["ok"] is True


@pytest.mark.parametrize(("args", "message"), [
    (["data", "show", "nosuch@v1"], "no dataset named 'nosuch'"),
    (["data", "versions", "bad/name"], "'bad/name' is not a valid dataset name"),
    (["data", "add", "d", "/no/such/folder"], "'/no/such/folder' does not exist"),
    (["data", "diff", "d", "v1", "v9"], "dataset 'd' has no version v9 (it has v1)"),
    (["data", "checkout", "d@vX", "out"], "'vX' is not a dataset version"),
    (["data", "used-by", "d@v3"], "dataset 'd' has no version v3"),
])
def test_bad_input_is_a_one_line_error(workspace_dir: Path, make_tree, capsys: pytest.CaptureFixture[str],
                                       args: list[str], message: str) -> None:
    cli(capsys, "data", "add", "d", str(make_tree("src", {"a": "1"})))
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("dlbench: error: ") and message in err and err.count("\n") == 1


def test_the_installed_command_reports_errors_without_traceback(workspace_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "data", "show", "ghost@latest"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("dlbench: error: no dataset named 'ghost' (no datasets exist yet); "
                                   "`dlbench data add ghost PATH` creates it")


def test_doctor_rebuild_keeps_dataset_versions_and_lineage(workspace_dir: Path, make_tree,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    src = make_tree("src", {"a.txt": "one"})
    assert cli(capsys, "data", "add", "toy", str(src), "-m", "first")[0] == 0
    (src / "b.txt").write_text("two")
    assert cli(capsys, "data", "add", "toy", str(src), "-m", "second")[0] == 0
    run = dlb.init(project="p")
    dlb.dataset("toy", "v1")
    run.finish()

    report = cli_json(capsys, "doctor", "--rebuild")
    assert report["runs"] == 1 and report["dataset_versions"] == 2
    versions = cli_json(capsys, "data", "versions", "toy")
    assert sorted(v["message"] for v in versions) == ["first", "second"]
    used = cli_json(capsys, "data", "used-by", "toy@v1")
    assert [u["run_id"] for u in used] == [run.id]
