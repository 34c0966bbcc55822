"""Scenario 4: dataset versioning (argv: ours|ours-link|dvc|dvc-link|limit|fixture many|big N SIZE [FIXTURE]).

``fixture`` draws the random bytes once into the current folder: the 1 GB file of ``big`` (which
takes seconds from os.urandom), the SIZE-byte block that every file of ``many`` is made from.
Each contender and round then makes its own ``./data`` from FIXTURE: the ``many`` files written
from the block, the ``big`` file copied. So every contender sees identical bytes, each in fresh
files of its own (not hard links: dvc relinks every file whose link count is above 1, which
would add a copy of the whole tree to its timed add; and copying 20,000 small files costs twice
what writing them does). Without FIXTURE a contender draws its own bytes. The data is flushed to
disk before anything is timed: a user's data is at rest, and a tool that syncs must not pay for
writing back our freshly made input.

Then it times what a user waits for: first add, re-add after rewriting 1% of the files (each
saved as a new file over the old, as an editor saves: writing in place into a file that link
mode has made a stored object would corrupt it), and checkout of the first version into an
empty folder. ``ours-link`` adds with ``--link`` and ``dvc-link`` sets ``cache.type hardlink``:
both store hard links to the user's files instead of copies. Setting up a repository (``dvc init``, our
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
fixture = Path(sys.argv[5]) if len(sys.argv) > 5 else None
work = Path.cwd()
src = work / "data"
if layout == "many":
    files = [src / f"d{i % 100:02d}" / f"f{i:06d}.bin" for i in range(n)]
else:
    files = [src / "big.bin"]


def draw(path: Path) -> None:
    """The random bytes of the layout into ``path``: the SIZE-byte block of ``many``, or the
    ``big`` file in whole 16 MiB chunks (so the QUICK "100 MB" file has 96 MiB, as it always had)."""
    with open(path, "wb") as f:
        if layout == "many":
            f.write(os.urandom(size))
        for _ in range(size // (1 << 24) if layout == "big" else 0):
            f.write(os.urandom(1 << 24))


if tool == "fixture":
    draw(work / ("block.bin" if layout == "many" else "big.bin"))
    os.sync()
    emit(bytes=size)
    raise SystemExit(0)
if layout == "many":
    block = (fixture / "block.bin").read_bytes() if fixture else os.urandom(size)
    for i, p in enumerate(files):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(i.to_bytes(8, "little") + block[8:])  # distinct content per file
else:
    src.mkdir()
    if fixture:
        shutil.copyfile(fixture / "big.bin", files[0])
    else:
        draw(files[0])
os.sync()
changed = files[:: 100] if layout == "many" else files  # 1% of the files (the one big file)


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
        tmp = p.with_name(p.name + ".new")
        tmp.write_bytes(bytes(data))
        os.replace(tmp, p)
    os.sync()  # at rest again: the re-add must not pay for writing back our rewrite (1 GB for `big`)


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
elif tool in ("ours", "ours-link"):
    env_home = str(work / ".dlbench")
    os.environ["DLBENCH_HOME"] = env_home
    dlbench = str(bindir / "dlbench")
    link = ["--link"] if tool == "ours-link" else []
    init = timed([dlbench, "data", "ls"])  # creates the workspace and its catalog, as `dvc init`
    add = timed([dlbench, "data", "add", "ds", str(src), "-m", "first", *link])
    rewrite_one_percent()
    readd = timed([dlbench, "data", "add", "ds", str(src), "-m", "1% changed", *link])
    checkout = timed([dlbench, "data", "checkout", "ds@v1", str(work / "out")])
    if link:
        emit(add_s=add, readd_s=readd, checkout_s=checkout, init_s=init)
        raise SystemExit(0)
    # the same first add as a library call (`dlb` in a notebook): no interpreter start-up or
    # imports, into a second workspace, so nothing is cached; beside the floor, what is left
    # once the command's start-up is taken out
    from jupyter_dlbench import data
    from jupyter_dlbench.store import Workspace

    os.environ["DLBENCH_HOME"] = str(work / ".dlbench2")
    ws = Workspace.find(create=True)
    with ws.catalog.session(write=True):
        pass
    os.sync()  # at rest, as before the first add: not behind the writeback of the steps above
    t0 = time.perf_counter()
    data.add(ws, "ds", src, message="first", progress=False)
    add_inproc = time.perf_counter() - t0
    emit(add_s=add, readd_s=readd, checkout_s=checkout, init_s=init, add_inproc_s=add_inproc)
else:  # dvc, with its defaults (no git: --no-scm), or with hard links
    dvc = str(bindir / "dvc")
    init = timed([dvc, "init", "--no-scm", "-q"])
    if tool == "dvc-link":
        subprocess.run([dvc, "config", "cache.type", "hardlink"], cwd=work, check=True, capture_output=True)
    add = timed([dvc, "add", "-q", "data"])
    v1 = (work / "data.dvc").read_bytes()  # kept outside the repo: dvc scans every .dvc file
    rewrite_one_percent()
    readd = timed([dvc, "add", "-q", "data"])
    shutil.rmtree(src, ignore_errors=True)  # empty, then restore v1 from the cache
    (work / "data.dvc").write_bytes(v1)
    checkout = timed([dvc, "checkout", "-q", "data.dvc"])
    emit(add_s=add, readd_s=readd, checkout_s=checkout, init_s=init)
