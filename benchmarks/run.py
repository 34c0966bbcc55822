"""`make bench`: the foundation's speed figures, printed as a table.

Scenarios (each median of rounds):
  log      one run, N steps x 3 scalars, durable at finish(): scalar points per second of the
           caller's time (target: >= 1,000,000 on the 2-core project machine).
  list     "all runs with params and last metric values" over R runs x 10 params x 500 steps x
           3 metrics (target: < 100 ms), and the same including the catalog open.
Peers (mlflow, wandb, aim, dvc) are measured side by side by issue 8's suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

LOG_CODE = """
import json, os, sys, time
import jupyter_dlbench as dlb
steps = int(sys.argv[1])
run = dlb.init(project="bench")
t0 = time.perf_counter()
for step in range(steps):
    run.log({"loss": 1.0 / (step + 1), "acc": step * 1e-6, "lr": 0.001}, step=step)
run.finish()
elapsed = time.perf_counter() - t0
import resource
print(json.dumps({"seconds": elapsed, "points": steps * 3,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_log(steps: int, rounds: int) -> dict[str, float]:
    results = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "DLBENCH_HOME": str(Path(tmp) / ".dlbench"),
                   "DLBENCH_CAPTURE_PACKAGES": "0"}
            out = subprocess.run([sys.executable, "-c", textwrap.dedent(LOG_CODE), str(steps)],
                                 capture_output=True, text=True, env=env, check=True).stdout
            results.append(json.loads(out))
    secs = statistics.median(r["seconds"] for r in results)
    return {"points_per_s": steps * 3 / secs, "seconds": secs,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results)}


def make_runs(home: Path, n_runs: int, steps: int) -> None:
    """Write n_runs synthetic journals in the real format (faster than n_runs interpreters)."""
    import numpy as np

    from jupyter_dlbench.tracking.journal import JournalWriter, encode_event, encode_metrics

    runs = home / "runs"
    runs.mkdir(parents=True)
    now = time.time()
    keys = ["loss", "acc", "val_acc"]
    idx = np.tile(np.arange(3, dtype=np.int32), steps)
    step_arr = np.repeat(np.arange(steps, dtype=np.int64), 3)
    ts = np.repeat(now + np.arange(steps, dtype=np.float64), 3)
    for i in range(n_runs):
        run_id = f"bench-{i:06d}"
        d = runs / run_id
        d.mkdir()
        w = JournalWriter(d / "journal.dlj")
        vals = np.random.default_rng(i).random(steps * 3)
        w.append([
            encode_event({"t": "start", "run_id": run_id, "project": f"p{i % 10}", "name": run_id,
                          "ts": now, "hostname": "bench", "pid": 0}),
            encode_event({"t": "params", "ts": now, "params": {
                f"p{k}": [float(i * k) if k % 2 else f"v{i % 7}", "explicit"] for k in range(10)}}),
            encode_metrics(keys, idx, step_arr, vals, ts),
            encode_event({"t": "end", "status": "finished", "ts": now + steps}),
        ])
        w.close()


def bench_list(n_runs: int, steps: int, rounds: int) -> dict[str, float]:
    from jupyter_dlbench.store import Workspace
    from jupyter_dlbench.tracking import query
    from jupyter_dlbench.tracking.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / ".dlbench"
        make_runs(home, n_runs, steps)
        ws = Workspace.find_at(home)
        t0 = time.perf_counter()
        with ws.catalog.session(write=True) as s:
            ingest(ws, s)
        ingest_s = time.perf_counter() - t0
        query_times, total_times = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            with query.catalog(ws) as s:
                t1 = time.perf_counter()
                frame = query.runs_frame(s)
                t2 = time.perf_counter()
            t3 = time.perf_counter()
            query_times.append(t2 - t1)
            total_times.append(t3 - t0)
            assert len(frame) == n_runs
        return {"query_ms": statistics.median(query_times) * 1e3,
                "with_open_ms": statistics.median(total_times) * 1e3,
                "ingest_points_per_s": n_runs * steps * 3 / ingest_s}


def _trivial_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("y = sum(range(x * 1000))\nprint(y)")]
    nbformat.write(nb, path)
    return path


def bench_jobs(rounds: int, batch: int) -> dict[str, float]:
    """A job's overhead over bare `papermill` (both as processes), and 8 jobs at concurrency 2
    against 8 sequential papermill runs."""
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        nb = _trivial_notebook(Path(tmp) / "trivial.ipynb")
        env = {**os.environ, "DLBENCH_HOME": str(Path(tmp) / ".dlbench"), "DLBENCH_CONCURRENCY": "2",
               "DLBENCH_CAPTURE_PACKAGES": "0"}

        def timed(cmd: list[str]) -> float:
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=tmp)
            return time.perf_counter() - t0

        bare, ours = [], []
        for _ in range(rounds):  # alternate A B A B so drift hits both
            bare.append(timed([str(bin_dir / "papermill"), str(nb), str(Path(tmp) / "o.ipynb"), "-p", "x", "2",
                               "-k", "python3"]))
            ours.append(timed([str(bin_dir / "dlbench"), "run", str(nb), "-p", "x", "2", "--wait"]))
        seq = timed(["bash", "-c", " && ".join(
            f"{bin_dir / 'papermill'} {nb} {Path(tmp) / f's{i}.ipynb'} -p x {i} -k python3 >/dev/null 2>&1"
            for i in range(batch))])
        par = timed([str(bin_dir / "dlbench"), "batch", *[str(nb)] * batch, "--wait"])
    b, o = statistics.median(bare), statistics.median(ours)
    return {"bare_s": b, "ours_s": o, "overhead_pct": 100 * (o - b) / b,
            "sequential_s": seq, "concurrent_s": par, "speedup": seq / par}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes (under a minute)")
    args = parser.parse_args(argv)
    steps = 20_000 if args.quick else 100_000
    n_runs = 1_000 if args.quick else 10_000
    rounds = 3
    from rich.console import Console
    from rich.table import Table

    log = bench_log(steps, rounds)
    listing = bench_list(n_runs, 500, rounds)
    jobs = bench_jobs(rounds, 4 if args.quick else 8)
    rows = [
        ("log: scalar points / s of caller time", f"{log['points_per_s']:,.0f}", ">= 1,000,000",
         f"{steps:,} steps x 3, durable at finish(); peak RSS {log['peak_rss_mb']:.0f} MB"),
        ("list runs + params + last metrics (query)", f"{listing['query_ms']:.1f} ms", "< 100 ms",
         f"{n_runs:,} runs x 10 params x 500 steps x 3 metrics"),
        ("  ... including catalog open + freshness check", f"{listing['with_open_ms']:.1f} ms", "", ""),
        ("ingest: journal points folded / s", f"{listing['ingest_points_per_s']:,.0f}", "", "bulk Arrow insert"),
        ("job overhead over bare papermill", f"{jobs['overhead_pct']:+.0f} %", "< 10 %",
         f"trivial notebook: papermill {jobs['bare_s']:.2f} s, dlbench run --wait {jobs['ours_s']:.2f} s"),
        ("notebooks at concurrency 2 vs sequential papermill", f"{jobs['speedup']:.2f}x", ">= 1.7x",
         f"sequential {jobs['sequential_s']:.1f} s, dlbench batch {jobs['concurrent_s']:.1f} s"),
    ]
    table = Table(title=f"jupyter-dlbench foundation benchmarks (median of {rounds}, {os.cpu_count()} cores)")
    for col in ("scenario", "ours", "target", "notes"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    Console(width=160).print(table)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "foundation.json").write_text(json.dumps({"log": log, "list": listing, "jobs": jobs, "quick": args.quick}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
