"""What `dlbench data add` costs beyond hashing: the command's start-up and the commit's checks.

Start-up counts in every add a user times (issue 6, Speed): a command that imports numpy,
Arrow or tqdm for nothing is a regression a user notices on every call, so it is pinned here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_dlbench import data
from jupyter_dlbench.data.manifest import Entry, Manifest
from jupyter_dlbench.errors import ObjectNotFound
from jupyter_dlbench.store import Workspace

_PROBE = """
import json, sys
from jupyter_dlbench.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("numpy", "pyarrow", "pandas", "tqdm", "asyncio", "duckdb") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


def _run(*args: str) -> tuple[dict[str, object], str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


def test_data_add_and_checkout_load_neither_heavy_libraries_nor_duckdb(workspace_dir: Path, make_tree) -> None:
    src = make_tree("src", {"a.txt": "alpha", "sub/b.bin": b"\x00\x01"})
    result, out = _run("data", "add", "ds", str(src), "-m", "first")
    assert result == {"code": 0, "heavy": []}
    assert "ds@v1: 2 files" in out
    result, out = _run("data", "checkout", "ds@v1", str(workspace_dir.parent / "out"))
    assert result == {"code": 0, "heavy": []}  # the version's record names its manifest
    assert (workspace_dir.parent / "out" / "sub" / "b.bin").read_bytes() == b"\x00\x01"


def test_every_command_is_still_offered(workspace_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    for command in ("runs", "sql", "doctor", "run", "jobs", "resources", "worker", "rerun", "batch",
                    "data", "report", "sweep", "sweeps"):
        assert f"    {command} " in done.stdout or f"    {command}\n" in done.stdout, command
    done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "--workspace", str(workspace_dir),
                           "data", "ls", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout) == []


def test_commit_still_refuses_a_missing_object_beside_a_large_latest_version(
        workspace_dir: Path, make_tree) -> None:
    """Objects the latest version holds are trusted without a stat; any other must exist."""
    src = make_tree("many", {f"f{i:03d}.txt": f"file {i}" for i in range(300)})
    ws = Workspace.find(create=True)
    v1 = data.add(ws, "ds", src, progress=False).version
    with ws.catalog.session(write=True) as session:
        kept = data.versions.load_manifest(ws, data.resolve(session, "ds", "v1")).entries
    ghost = "ab" * 32
    with pytest.raises(ObjectNotFound, match="refers to 1 objects that are not stored"):
        data.commit(ws, "ds", Manifest({**kept, "ghost.txt": Entry(ghost, 5, False)}))
    with ws.catalog.session(write=True) as session:
        assert [v.version for v in data.list_versions(session, "ds")] == [v1.version]
