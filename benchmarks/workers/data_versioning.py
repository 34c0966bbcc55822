"""Scenario 4: dataset versioning (argv: ours|dvc|limit many|big N SIZE).

Generates the data in its temp folder (not timed), then times what a user waits for:
first add, re-add after rewriting 1% of the files, and checkout of the first version into an
empty folder. ``many`` is N files of SIZE bytes in 100 sub-folders; ``big`` one file of SIZE.
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
    add = timed([dlbench, "data", "add", "ds", str(src), "-m", "first"])
    rewrite_one_percent()
    readd = timed([dlbench, "data", "add", "ds", str(src), "-m", "1% changed"])
    checkout = timed([dlbench, "data", "checkout", "ds@v1", str(work / "out")])
    emit(add_s=add, readd_s=readd, checkout_s=checkout)
else:  # dvc, with its defaults (no git: --no-scm)
    dvc = str(bindir / "dvc")
    timed([dvc, "init", "--no-scm", "-q"])
    add = timed([dvc, "add", "-q", "data"])
    v1 = (work / "data.dvc").read_bytes()  # kept outside the repo: dvc scans every .dvc file
    rewrite_one_percent()
    readd = timed([dvc, "add", "-q", "data"])
    shutil.rmtree(src, ignore_errors=True)  # empty, then restore v1 from the cache
    (work / "data.dvc").write_bytes(v1)
    checkout = timed([dvc, "checkout", "-q", "data.dvc"])
    emit(add_s=add, readd_s=readd, checkout_s=checkout)
