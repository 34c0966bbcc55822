"""Scenario 4: dataset versioning (argv: ours|dvc|limit many|big N SIZE).

Generates the data in its temp folder and flushes it to disk (not timed: a user's data is at
rest, and a tool that syncs must not pay for writing back our freshly generated input), then
times what a user waits for: first add, re-add after rewriting 1% of the files, and checkout
of the first version into an empty folder. Setting up a repository (``dvc init``, our
workspace and catalog) is timed apart, as ``init_s``, and not counted in the add. ``ours`` also
times the same first add as a library call (``add_inproc_s``: no interpreter start-up).
``many`` is N files of SIZE bytes in 100 sub-folders; ``big`` one file of SIZE.
``limit`` times the floor instead: reading every byte once (``cat``) and BLAKE3 over them.
Each tool runs as the user runs it: a command in a fresh process.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import emit

tool, layout, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
work = Path.cwd()
src = work / "data"
files: list[Path] = []
if layout == "many":
    block = os.urandom(size)
    for i in range(n):
        p = src / f"d{i % 100:02d}" / f"f{i:06d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(i.to_bytes(8, "little") + block[8:])  # distinct content per file
        files.append(p)
else:
    src.mkdir()
    p = src / "big.bin"
    with open(p, "wb") as f:
        for _ in range(size // (1 << 24)):
            f.write(os.urandom(1 << 24))
    files.append(p)
changed = files[:: 100] if layout == "many" else files  # 1% of the files (the one big file)
os.sync()


def timed(cmd: list[str], cwd: Path = work) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{cmd} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - t0


def rewrite_one_percent() -> None:
    for p in changed:
        data = bytearray(p.read_bytes())
        data[-1] ^= 0xFF
        os.chmod(p, 0o644)
        p.write_bytes(bytes(data))


bindir = Path(sys.executable).parent
if tool == "limit":
    t_cat = timed(["bash", "-c", "find data -type f -print0 | xargs -0 cat > /dev/null"])
    import blake3

    t0 = time.perf_counter()
    for p in files:
        blake3.blake3(p.read_bytes(), max_threads=blake3.blake3.AUTO).digest()
    t_hash = time.perf_counter() - t0
    total = sum(p.stat().st_size for p in files)
    emit(cat_s=t_cat, blake3_s=t_hash, bytes=total)
elif tool == "ours":
    env_home = str(work / ".dlbench")
    os.environ["DLBENCH_HOME"] = env_home
    dlbench = str(bindir / "dlbench")
    init = timed([dlbench, "data", "ls"])  # creates the workspace and its catalog, as `dvc init`
    add = timed([dlbench, "data", "add", "ds", str(src), "-m", "first"])
    rewrite_one_percent()
    readd = timed([dlbench, "data", "add", "ds", str(src), "-m", "1% changed"])
    checkout = timed([dlbench, "data", "checkout", "ds@v1", str(work / "out")])
    # the same first add as a library call (`dlb` in a notebook): no interpreter start-up or
    # imports, into a second workspace, so nothing is cached; beside the floor, what is left
    # once the command's start-up is taken out
    from jupyter_dlbench import data
    from jupyter_dlbench.store import Workspace

    os.environ["DLBENCH_HOME"] = str(work / ".dlbench2")
    ws = Workspace.find(create=True)
    with ws.catalog.session(write=True):
        pass
    t0 = time.perf_counter()
    data.add(ws, "ds", src, message="first", progress=False)
    add_inproc = time.perf_counter() - t0
    emit(add_s=add, readd_s=readd, checkout_s=checkout, init_s=init, add_inproc_s=add_inproc)
else:  # dvc, with its defaults (no git: --no-scm)
    dvc = str(bindir / "dvc")
    init = timed([dvc, "init", "--no-scm", "-q"])
    add = timed([dvc, "add", "-q", "data"])
    v1 = (work / "data.dvc").read_bytes()  # kept outside the repo: dvc scans every .dvc file
    rewrite_one_percent()
    readd = timed([dvc, "add", "-q", "data"])
    shutil.rmtree(src, ignore_errors=True)  # empty, then restore v1 from the cache
    (work / "data.dvc").write_bytes(v1)
    checkout = timed([dvc, "checkout", "-q", "data.dvc"])
    emit(add_s=add, readd_s=readd, checkout_s=checkout, init_s=init)
