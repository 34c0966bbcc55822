"""Several processes adding versions of the same dataset at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from jupyter_dlbench import data
from jupyter_dlbench.store import Workspace

_ADD = textwrap.dedent("""
    import os, sys, time
    from jupyter_dlbench import data
    from jupyter_dlbench.store import Workspace
    go, src = sys.argv[1], sys.argv[2]
    ws = Workspace.find()
    while not os.path.exists(go):
        time.sleep(0.005)
    v = data.add(ws, "shared", src, progress=False).version
    print(v.version, v.manifest_oid)
""")


def test_concurrent_adds_of_one_name_keep_every_version_with_distinct_numbers(
        workspace: Workspace, make_tree, tmp_path: Path) -> None:
    # 80 common files: enough for each add to write a pack, so three packs race for the same objects
    sources = [make_tree(f"src{i}", {f"common/{k}.txt": f"{k}" * 100 for k in range(80)} |
                         {"who.txt": f"process {i}"}) for i in range(3)]
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _ADD, str(go), str(src)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy()) for src in sources]
    time.sleep(0.5)  # let them all start and wait at the barrier
    go.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    reported = sorted(o.split()[0] for o, _ in outs)
    assert reported == ["v1", "v2", "v3"]
    with workspace.catalog.session() as s:
        versions = data.list_versions(s, "shared")
        assert data.verify(workspace, s).ok
    assert [v.version for v in versions] == ["v1", "v2", "v3"]
    assert [v.parent for v in versions] == [None, "v1", "v2"]
    by_oid = {o.split()[1]: o.split()[0] for o, _ in outs}
    for src, (out, _) in zip(sources, outs, strict=True):
        version = next(v for v in versions if v.version == by_oid[out.split()[1]])
        manifest = data.versions.load_manifest(workspace, version)
        assert len(manifest) == 81
        who = workspace.objects.read_bytes(manifest.entries["who.txt"].oid)
        assert who == (src / "who.txt").read_bytes()


_OPEN = textwrap.dedent("""
    import os, sys, time
    from jupyter_dlbench import data
    from jupyter_dlbench.store import Workspace
    go = sys.argv[1]
    ws = Workspace.find()
    while not os.path.exists(go):
        time.sleep(0.005)
    ds = data.open_dataset(ws, "shared", "v1")
    print(ds.path, sum(1 for _ in ds.path.rglob("*") if _.is_file()))
""")


def test_two_processes_materialising_one_version_share_one_complete_copy(
        workspace: Workspace, make_tree, tmp_path: Path) -> None:
    data.add(workspace, "shared", make_tree("src", {f"d{i % 5}/{i}.txt": str(i) * 50 for i in range(120)}))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN, str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy()) for _ in range(2)]
    time.sleep(0.5)
    go.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert {o.strip() for o, _ in outs} == {f"{workspace.root / 'cache' / 'datasets'}/"
                                            f"{data.open_dataset(workspace, 'shared').info.manifest_oid} 120"}
    leftovers = [p.name for p in (workspace.root / "cache" / "datasets").iterdir() if p.name.startswith(".")]
    assert leftovers == []


_KILLED = textwrap.dedent("""
    import sys, time
    from jupyter_dlbench import data
    from jupyter_dlbench.data import snapshot
    from jupyter_dlbench.store import Workspace
    real, count = snapshot.write_object, [0]

    def slow(objects, oid, payload, pack=None):
        count[0] += 1
        if count[0] == 50:  # half-way: tell the test, then hang until killed
            print("midway", flush=True)
            time.sleep(60)
        return real(objects, oid, payload, pack)

    snapshot.write_object = slow
    data.add(Workspace.find(), "shared", sys.argv[1], progress=False, workers=2)
""")


def test_an_add_killed_midway_leaves_no_version_and_gc_clears_its_debris(workspace: Workspace, make_tree) -> None:
    src = make_tree("src", {f"{i}.bin": os.urandom(20_000) for i in range(200)})
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(src)], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "midway", proc.stderr.read() if proc.stderr else ""
    proc.kill()  # SIGKILL: no cleanup code runs
    proc.communicate()
    assert list(workspace.objects.root.glob(".tmp-*"))  # its unpublished temp objects are left behind
    with workspace.catalog.session() as s:
        assert s.execute("SELECT count(*) FROM dataset_version_rows")[0][0] == 0
        assert data.gc(workspace, s, dry_run=True).temp_removed == 0  # young debris is kept a while
        report = data.gc(workspace, s, dry_run=False, grace_s=0)
    assert report.temp_removed > 0 and not list(workspace.objects.root.glob(".tmp-*"))
    v = data.add(workspace, "shared", src).version
    assert (v.version, v.file_count) == ("v1", 200)
    with workspace.catalog.session() as s:
        assert data.verify(workspace, s).ok
