"""`make bench`: our speed beside mlflow, wandb, aim, dvc and papermill, measured in one run.

Every figure comes from a worker script (benchmarks/workers/) started as a fresh interpreter:
ours in the project's venv, peers in benchmarks/.peers-venv (created here on first use, so the
peers' dependencies never touch ours). Contenders of a scenario run in alternation, A B A B,
for ``--rounds`` rounds, so load drift on the machine hits everyone alike; the table shows
medians and the ratio peer / ours (above 1: we are faster by that factor).

Output: a table on the terminal, benchmarks/results/latest.json, and BENCHMARKS.md (method,
versions, machine). ``--quick`` (make bench QUICK=1) scales every size down to finish in a few
minutes, still with three alternating rounds. Benchmarks measure; tests verify: nothing here
asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKERS = HERE / "workers"
PEERS_VENV = HERE / ".peers-venv"
PEER_PACKAGES = ["mlflow", "wandb", "aim", "dvc", "papermill", "ipykernel"]
OURS = sys.executable


def peers_python() -> str | None:
    """The peers' interpreter, creating their venv on first use; None if it cannot be built."""
    py = PEERS_VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {PEERS_VENV} with {', '.join(PEER_PACKAGES)} (first run only) ...",
              flush=True)
        base = shutil.which("python3.11") or shutil.which("python3") or sys.executable
        try:
            subprocess.run([base, "-m", "venv", str(PEERS_VENV)], check=True)
            subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
        except subprocess.CalledProcessError as e:
            print(f"peers unavailable ({e}); measuring ours only", file=sys.stderr)
            shutil.rmtree(PEERS_VENV, ignore_errors=True)
            return None
    return str(py)


def worker(python: str, script: str, *args: Any, cwd: Path, env: dict[str, str] | None = None,
           timeout: float = 3600) -> dict[str, Any]:
    """Run one worker in a fresh interpreter and return the JSON figures it printed."""
    full_env = {**os.environ, "DLBENCH_CAPTURE_PACKAGES": "0", "PYTHONPATH": str(WORKERS),
                **(env or {})}
    full_env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([python, str(WORKERS / script), *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{script} {args} failed ({done.returncode}): {done.stderr[-1500:]}")
    return json.loads(lines[-1])


@dataclass
class Contender:
    label: str
    run: Callable[[Path], dict[str, Any]]  # one measurement, in a fresh temp dir
    results: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.results)


def alternate(contenders: list[Contender], rounds: int) -> None:
    for i in range(rounds):
        for c in contenders:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    c.results.append(c.run(Path(tmp)))
                except Exception as e:  # a peer that breaks is reported, not fatal
                    print(f"  {c.label} round {i + 1}: {e}", file=sys.stderr)
        print(f"  round {i + 1}/{rounds} done", flush=True)


@dataclass
class Row:
    scenario: str
    ours: str
    peer: str = ""
    peer_value: str = ""
    ratio: float | None = None  # peer / ours in time (or ours / peer in throughput): >1 = we win
    target: str = ""
    met: bool | None = None
    note: str = ""
    group: str = ""  # the scenario that produced it (filled in by main)
    run: str = ""    # "full" or "QUICK", with the date and rounds


ROWS: list[Row] = []
RAW: dict[str, Any] = {}


def _ms(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.1f} s"


# -- scenario 1: logging -------------------------------------------------------------------

def mlflow_empty_db(peers: str) -> Path | None:
    """An empty mlflow sqlite store (schema migrated), made once and kept with the peers (see
    peer_fixture); None if it cannot be made, and then each round makes its own."""
    d = FIXTURES / "log_mlflow-empty-v1"
    if not (d / ".complete").exists():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        try:
            worker(peers, "log_mlflow.py", "setup", cwd=d)
        except Exception as e:  # a peer that breaks is reported, not fatal
            print(f"  mlflow: empty store not made: {e}", file=sys.stderr)
            return None
        (d / ".complete").touch()
    return d / "mlflow.db"


def scenario_logging(peers: str | None, quick: bool, rounds: int) -> None:
    steps = 20_000 if quick else 100_000
    slow_steps = 200 if quick else 2_000  # mlflow per-step is ~300 points/s: rate from fewer
    # peers log at 7,000-20,000 points/s: at QUICK their rate is taken over 2,000 steps, which
    # still amortises their start and close over 6,000 points and saves minutes per run
    peer_steps = 2_000 if quick else steps
    print(f"logging: {steps:,} steps x 3 scalars", flush=True)
    # our report writer (detached after finish()) would run into the next peer's round
    cs = [Contender("ours", lambda d: worker(OURS, "log_ours.py", steps, cwd=d,
                                             env={"DLBENCH_HOME": str(d / ".dlbench"),
                                                  "DLBENCH_AUTO_REPORT": "0"}))]
    if peers:
        empty_db = mlflow_empty_db(peers)

        def sqlite(d: Path) -> Path:  # an empty store, made once: no migrations per round
            if empty_db:
                shutil.copyfile(empty_db, d / "mlflow.db")
            return d

        cs += [
            Contender("mlflow log_batch (sqlite)",
                      lambda d: worker(peers, "log_mlflow.py", peer_steps, "batch", "sqlite", cwd=sqlite(d))),
            Contender("mlflow log_batch (file store)",
                      lambda d: worker(peers, "log_mlflow.py", peer_steps, "batch", "file", cwd=d,
                                       env={"MLFLOW_ALLOW_FILE_STORE": "true"})),
            Contender("mlflow log_metric (sqlite)",
                      lambda d: worker(peers, "log_mlflow.py", slow_steps, "step", "sqlite", cwd=sqlite(d))),
            Contender("wandb offline log", lambda d: worker(peers, "log_wandb.py", peer_steps, cwd=d)),
            Contender("aim track", lambda d: worker(peers, "log_aim.py", peer_steps, cwd=d)),
        ]
    alternate(cs, rounds)
    RAW["logging"] = {c.label: c.results for c in cs}
    ours = cs[0]
    if not ours.results:
        return
    rate = statistics.median(r["points"] / r["seconds"] for r in ours.results)
    best_peer = 0.0
    for c in cs[1:]:
        if c.results:
            best_peer = max(best_peer, statistics.median(r["points"] / r["seconds"] for r in c.results))
    ROWS.append(Row("log: scalar points/s of caller time", f"{rate:,.0f}/s", "", "", None,
                    ">= 1,000,000/s", rate >= 1_000_000,
                    f"{steps:,} steps x 3, durable at finish(); peak RSS {ours.median('peak_rss_mb'):.0f} MB"))
    for c in cs[1:]:
        if not c.results:
            ROWS.append(Row("", "", c.label, "failed", None))
            continue
        prate = statistics.median(r["points"] / r["seconds"] for r in c.results)
        ROWS.append(Row("", "", c.label, f"{prate:,.0f}/s", rate / prate,
                        ">= 10x the fastest peer" if prate == best_peer else "",
                        rate >= 10 * prate if prate == best_peer else None,
                        f"{c.results[0]['points'] // 3:,} steps; peak RSS {c.median('peak_rss_mb'):.0f} MB"))


# -- scenario 2: overhead on training ------------------------------------------------------

def scenario_training(quick: bool, rounds: int) -> None:
    epochs = 20 if quick else 100
    reps = max(rounds, 5)
    print(f"training overhead: digits MLP, {epochs} epochs, one log per batch", flush=True)
    if quick:  # one interpreter, off/on alternated: ten torch imports would dwarf the training
        with tempfile.TemporaryDirectory() as tmp:
            r = worker(OURS, "train_overhead.py", "both", epochs, reps, cwd=Path(tmp),
                       env={"DLBENCH_HOME": str(Path(tmp) / ".dlbench"),
                            "DLBENCH_AUTO_REPORT": "0"})
        off_s, on_s, steps = r["off"], r["on"], r["steps"]
        method = f"{reps} off/on pairs in one interpreter"
    else:
        cs = [Contender(mode, lambda d, m=mode: worker(OURS, "train_overhead.py", m, epochs, cwd=d,
                                                        env={"DLBENCH_HOME": str(d / ".dlbench"),
                                                             "DLBENCH_AUTO_REPORT": "0"}))
              for mode in ("off", "on")]
        alternate(cs, reps)
        off_s, on_s = [r["seconds"] for r in cs[0].results], [r["seconds"] for r in cs[1].results]
        steps = cs[1].results[0]["steps"]
        method = f"{reps} rounds, a fresh interpreter each"
    RAW["training"] = {"off": off_s, "on": on_s}
    off, on = statistics.median(off_s), statistics.median(on_s)
    pct = 100 * (on - off) / off
    ROWS.append(Row("train digits MLP, log every batch: slowdown", f"{pct:+.1f} %", "untracked",
                    _ms(off), None, "< 2 %", pct < 2,
                    f"{steps:,} batches; tracked {_ms(on)} incl. finish(); {method}"))


# -- scenario 3: listing and comparing -----------------------------------------------------

FIXTURES = PEERS_VENV / "fixtures"  # peers' listing fixtures, kept with the peers they fit


def peer_fixture(peers: str, script: str, n: int, steps: int, *extra: int) -> Path:
    """A peer's listing fixture (N runs x STEPS steps), built by its worker once and reused by
    later ``make bench`` runs: the peers and the data are fixed, and building them through
    the peers' own code takes minutes (aim's SDK needs a RocksDB pair per run). It lives in
    the peers' venv, so a rebuilt venv (new peer versions) rebuilds it. Ours is built fresh
    every time, since our catalog schema changes with our code."""
    d = FIXTURES / f"{Path(script).stem}-{n}x{steps}{''.join(f'-{e}' for e in extra)}-v1"
    if (d / ".complete").exists():
        print(f"  {script}: reusing {d}", flush=True)
        return d
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    t0 = time.perf_counter()
    worker(peers, script, "setup", d, n, steps, *extra, cwd=d)
    (d / ".complete").touch()
    print(f"  {script}: set up in {time.perf_counter() - t0:.0f} s", flush=True)
    return d


def scenario_listing(peers: str | None, quick: bool, rounds: int, work: Path) -> None:
    n, steps = (1_000, 500) if quick else (10_000, 500)
    # mlflow reads one full history per call: at 100 runs that alone is half a QUICK minute
    curve_runs = 20 if quick else 100
    print(f"listing: {n:,} runs x 10 params x {steps} steps x 3 metrics (setup, not timed)", flush=True)
    ours_home = work / "ours" / ".dlbench"
    ours_home.parent.mkdir(parents=True)
    t0 = time.perf_counter()
    worker(OURS, "list_ours.py", "setup", ours_home, n, steps, cwd=work)
    print(f"  ours set up in {time.perf_counter() - t0:.0f} s", flush=True)
    cs = [Contender("ours", lambda d: worker(OURS, "list_ours.py", "query", ours_home, n, steps,
                                             curve_runs, cwd=d))]
    if peers:
        for label, script in (("mlflow (sqlite)", "list_mlflow.py"), ("aim", "list_aim.py")):
            try:
                # aim's histories are read from runs made through its SDK: curve_runs of them
                extra = (curve_runs,) if script == "list_aim.py" else ()
                fixture = peer_fixture(peers, script, n, steps, *extra)
            except Exception as e:  # a peer that breaks is reported, not fatal
                print(f"  {label}: setup failed: {e}", file=sys.stderr)
                continue
            cs.append(Contender(label, lambda d, s=script, f=fixture: worker(
                peers, s, "query", f, n, steps, curve_runs, cwd=f)))
    alternate(cs, rounds)
    RAW["listing"] = {c.label: c.results for c in cs}
    ours = cs[0]
    mlflow = next((c for c in cs if c.label.startswith("mlflow") and c.results), None)
    aim = next((c for c in cs if c.label == "aim" and c.results), None)
    for key, label, target, bound in (
            ("list_s", f"list {n:,} runs + params + last metrics (warm)", "< 100 ms; >= 20x mlflow", 0.1),
            ("list_cold_s", "  ... in a fresh process (CLI)", "", None),
            ("history20_s", "full history of one metric, 20 runs", "", None),
            ("curves100_s", f"downsampled history (2,000 pts), {curve_runs} runs", "", None)):
        o = ours.median(key)
        ratio = mlflow.median(key) / o if mlflow else None
        met = None
        if bound is not None:
            met = o < bound and (ratio is None or ratio >= 20)
        ROWS.append(Row(label, _ms(o), "mlflow search_runs / get_metric_history" if mlflow else "",
                        _ms(mlflow.median(key)) if mlflow else "", ratio, target, met,
                        "mlflow has no downsampling: full histories" if key == "curves100_s" else ""))
        if aim:
            listing = key in ("list_s", "list_cold_s")
            ROWS.append(Row("", "", "aim query_runs (hparams + last values)" if listing
                            else "aim get_metric", _ms(aim.median(key)), aim.median(key) / o, "", None,
                            "aim's meta index; run name, hparams, collect_sequence_info" if listing
                            else "aim's own sample(2000) per run" if key == "curves100_s"
                            else "full series of each run"))
    RAW["listing_home"] = str(ours_home)


# -- scenario 4: dataset versioning -------------------------------------------------------

def scenario_data(peers: str | None, quick: bool, rounds: int) -> None:
    layouts = ([("many", 1_000, 50_000), ("big", 1, 48 << 20)] if quick
               else [("many", 20_000, 50_000), ("big", 1, 1 << 30)])
    # byte-compile our package as installing a wheel does (the peers' venv has its .pyc files):
    # where PYTHONDONTWRITEBYTECODE is set, an editable install would recompile on every command
    subprocess.run([OURS, "-m", "compileall", "-q", str(ROOT / "jupyter_dlbench")], check=False,
                   capture_output=True)
    for layout, n, size in layouts:
        what = f"{n:,} files x {size // 1000} KB" if layout == "many" else f"one {size >> 20:,} MB file"
        print(f"data: {what}", flush=True)
        # the random bytes are drawn once per layout, and each contender and round makes its
        # own fresh files of them (see the worker): identical data for all, and a copy of the
        # big file costs a fraction of drawing it again from os.urandom
        with tempfile.TemporaryDirectory() as fixture_s:
            t0 = time.perf_counter()
            worker(OURS, "data_versioning.py", "fixture", layout, n, size, cwd=Path(fixture_s))
            print(f"  random bytes drawn in {time.perf_counter() - t0:.0f} s", flush=True)
            a = (layout, n, size, fixture_s)
            cs = [Contender("ours", lambda d, a=a: worker(OURS, "data_versioning.py", "ours", *a, cwd=d)),
                  Contender("limit", lambda d, a=a: worker(OURS, "data_versioning.py", "limit", *a, cwd=d))]
            if peers:
                cs.append(Contender("dvc", lambda d, a=a: worker(peers, "data_versioning.py", "dvc", *a, cwd=d)))
            # link mode: hard links instead of copies (ours --link; dvc's cache.type hardlink,
            # left out of QUICK runs, where its start-up would take half a minute more)
            cs.append(Contender("ours-link", lambda d, a=a: worker(OURS, "data_versioning.py", "ours-link", *a, cwd=d)))
            if peers and not quick:
                cs.append(Contender("dvc-link", lambda d, a=a: worker(peers, "data_versioning.py", "dvc-link", *a, cwd=d)))
            alternate(cs, rounds)
        RAW[f"data_{layout}"] = {c.label: c.results for c in cs}
        by = {c.label: c for c in cs}
        ours, limit = by["ours"], by["limit"]
        dvc = by["dvc"] if "dvc" in by and by["dvc"].results else None
        _link_rows(what, by, limit)
        if not ours.results:
            ROWS.append(Row(f"data add ({what})", "failed"))
            continue
        add, cat = ours.median("add_s"), limit.median("cat_s")
        ROWS.append(Row(f"data add ({what})", _ms(add), "dvc add" if dvc else "",
                        _ms(dvc.median("add_s")) if dvc else "",
                        dvc.median("add_s") / add if dvc else None,
                        ">= 3x dvc; <= 1.5x reading the bytes",
                        (dvc is None or dvc.median("add_s") >= 3 * add) and add <= 1.5 * cat,
                        f"floor: cat {_ms(cat)}, BLAKE3 {_ms(limit.median('blake3_s'))} "
                        f"({limit.results[0]['bytes'] / limit.median('blake3_s') / 2**20:,.0f} MB/s); "
                        "times include each command's start-up; "
                        f"in-process add (no start-up) {_ms(ours.median('add_inproc_s'))} = "
                        f"{ours.median('add_inproc_s') / cat:.1f}x cat; workspace/repo init not counted "
                        f"(ours {_ms(ours.median('init_s'))}"
                        + (f", dvc init {_ms(dvc.median('init_s'))})" if dvc else ")")))
        readd = ours.median("readd_s")
        ROWS.append(Row("  ... re-add after 1% changed", _ms(readd), "dvc add" if dvc else "",
                        _ms(dvc.median("readd_s")) if dvc else "",
                        dvc.median("readd_s") / readd if dvc else None,
                        "<= 10% of first add" if layout == "many" else "",
                        readd <= 0.1 * add if layout == "many" else None,
                        f"{100 * readd / add:.0f}% of the first add"))
        co = ours.median("checkout_s")
        ROWS.append(Row("  ... checkout v1 into an empty folder", _ms(co), "dvc checkout" if dvc else "",
                        _ms(dvc.median("checkout_s")) if dvc else "",
                        dvc.median("checkout_s") / co if dvc else None, ">= 3x dvc",
                        dvc.median("checkout_s") >= 3 * co if dvc else None,
                        "ours copies packed small objects out (copy_file_range) and hard-links big ones, read-only; dvc with its default cache.type"))


def _link_rows(what: str, by: dict[str, Contender], limit: Contender) -> None:
    """Link mode beside DVC's hardlink cache: the add that does not copy the bytes, so the one
    measured against reading the bytes once."""
    ours = by["ours-link"]
    if not ours.results or not limit.results:
        ROWS.append(Row(f"data add --link ({what})", "failed"))
        return
    dvc = by["dvc-link"] if "dvc-link" in by and by["dvc-link"].results else None
    add, cat = ours.median("add_s"), limit.median("cat_s")
    readd, co = ours.median("readd_s"), ours.median("checkout_s")
    ROWS.append(Row(f"data add --link ({what})", _ms(add), "dvc add (cache.type hardlink)" if dvc else "",
                    _ms(dvc.median("add_s")) if dvc else "",
                    dvc.median("add_s") / add if dvc else None,
                    "<= 1.5x reading the bytes", add <= 1.5 * cat,
                    f"{add / cat:.1f}x cat ({_ms(cat)}); files hard-linked into the store and made read-only; "
                    f"re-add after 1% changed {_ms(readd)} ({100 * readd / add:.0f}%)"
                    + (f" vs dvc {_ms(dvc.median('readd_s'))}" if dvc else "")
                    + f"; checkout {_ms(co)}" + (f" vs dvc {_ms(dvc.median('checkout_s'))}" if dvc else "")))


# -- scenario 6: the server ----------------------------------------------------------------

def scenario_server(quick: bool, work: Path) -> None:
    n = 1_000 if quick else 10_000
    requests = 50 if quick else 200
    home = work / "ours" / ".dlbench"
    print(f"server: GET /dlbench/api/runs at {n:,} runs, {requests} requests", flush=True)
    r = worker(OURS, "server_list.py", home, n, requests, cwd=work)
    RAW["server"] = r
    ROWS.append(Row(f"REST runs list (page of 200 of {n:,}) p50", _ms(r["page_p50_s"]), "", "", None,
                    "< 50 ms", r["page_p50_s"] < 0.05, f"p95 {_ms(r['page_p95_s'])}"))
    ROWS.append(Row("  ... sorted by a metric, p50", _ms(r["sorted_p50_s"]), "", "", None, "", None,
                    f"p95 {_ms(r['sorted_p95_s'])}"))


# -- scenario 5: notebook execution --------------------------------------------------------

def _trivial_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("y = sum(range(x * 1000))\nprint(y)")]
    nbformat.write(nb, path)
    return path


def scenario_jobs(quick: bool, rounds: int) -> None:
    """A job's overhead over bare `papermill` as a process, on a trivial notebook and on the
    digits example; N notebooks at concurrency 2 against N sequential papermill runs."""
    batch = 4 if quick else 8
    bin_dir = Path(OURS).parent
    example = ROOT / "examples" / "train_digits.ipynb"
    # detached report writers may still be writing into the workspace when the scenario ends
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp_s:
        tmp = Path(tmp_s)
        nb = _trivial_notebook(tmp / "trivial.ipynb")
        env = {**os.environ, "DLBENCH_HOME": str(tmp / ".dlbench"), "DLBENCH_CONCURRENCY": "2",
               "DLBENCH_CAPTURE_PACKAGES": "0"}

        def timed(cmd: list[str]) -> float:
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=tmp)
            return time.perf_counter() - t0

        figures: dict[str, Any] = {}
        for label, path, params in (("trivial", nb, ["-p", "x", "2"]),
                                    ("example", example, ["-p", "epochs", "1" if quick else "3"])):
            print(f"jobs: overhead over bare papermill ({label} notebook)", flush=True)
            bare, ours = [], []
            for _ in range(rounds):
                bare.append(timed([str(bin_dir / "papermill"), str(path), str(tmp / "o.ipynb"),
                                   *params, "-k", "python3"]))
                ours.append(timed([str(bin_dir / "dlbench"), "run", str(path), *params, "--wait"]))
            b, o = statistics.median(bare), statistics.median(ours)
            figures[label] = {"bare_s": b, "ours_s": o}
            ROWS.append(Row(f"job overhead over bare papermill ({label} notebook)",
                            f"{100 * (o - b) / b:+.0f} %", "papermill", _ms(b), None,
                            "< 10 %" if label == "example" else "", (o - b) / b < 0.10 if label == "example" else None,
                            f"dlbench run --wait {_ms(o)}"))
        print(f"jobs: {batch} notebooks, concurrency 2 vs sequential", flush=True)
        seq = timed(["bash", "-c", " && ".join(
            f"{bin_dir / 'papermill'} {nb} {tmp / f's{i}.ipynb'} -p x {i} -k python3 >/dev/null 2>&1"
            for i in range(batch))])
        par = timed([str(bin_dir / "dlbench"), "batch", *[str(nb)] * batch, "--wait"])
        figures["batch"] = {"sequential_s": seq, "concurrent_s": par}
        ROWS.append(Row(f"{batch} notebooks at concurrency 2: speedup", f"{seq / par:.2f}x",
                        "sequential papermill", _ms(seq), None, ">= 1.7x", seq / par >= 1.7,
                        f"dlbench batch {_ms(par)}"))
    RAW["jobs"] = figures
    print(f"jobs: {json.dumps(figures)}", flush=True)


def _busy_notebook(path: Path, seconds: float) -> Path:
    """A trial that computes for ``seconds`` of CPU time on one core and logs an objective."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(f"i = 0\nseconds = {seconds}")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import time\nimport jupyter_dlbench as dlb\nrun = dlb.init()\n"
        "t0 = time.process_time()\nx = 0\n"
        "while time.process_time() - t0 < seconds:\n    x += sum(range(1000))\n"
        "run.log({'score': float(i)}, step=0)\nrun.finish()")]
    nbformat.write(nb, path)
    return path


def scenario_sweep(quick: bool) -> None:
    """A sweep's total against the ideal: sum of trial times / 2 + one kernel start."""
    trials, seconds = (4, 2.0) if quick else (16, 5.0)
    bin_dir = Path(OURS).parent
    print(f"sweep: {trials} trials of ~{seconds:.0f} s CPU each, concurrency 2", flush=True)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp_s:
        tmp = Path(tmp_s)
        nb = _busy_notebook(tmp / "busy.ipynb", seconds)
        env = {**os.environ, "DLBENCH_HOME": str(tmp / ".dlbench"), "DLBENCH_CAPTURE_PACKAGES": "0"}
        empty = _trivial_notebook(tmp / "empty.ipynb")
        starts = []  # the median of three: a single cold start (page cache) overstates it
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([str(bin_dir / "papermill"), str(empty), str(tmp / "e.ipynb"), "-k",
                            "python3"], check=True, capture_output=True, env=env, cwd=tmp)
            starts.append(time.perf_counter() - t0)
        kernel_start = statistics.median(starts)
        t0 = time.perf_counter()
        subprocess.run([str(bin_dir / "dlbench"), "sweep", str(nb),
                        "i=" + ",".join(str(i) for i in range(trials)), "--concurrency", "2",
                        "--objective", "score:max"],
                       check=True, capture_output=True, env=env, cwd=tmp)
        total = time.perf_counter() - t0
    ideal = trials * seconds / 2 + kernel_start
    RAW["sweep"] = {"total_s": total, "ideal_s": ideal, "kernel_start_s": kernel_start}
    print(f"sweep: {json.dumps(RAW['sweep'])}", flush=True)
    ROWS.append(Row(f"sweep of {trials} trials (~{seconds:.0f} s each), concurrency 2",
                    f"{total:,.1f} s", "ideal", f"{ideal:,.1f} s", None, "within 15% of ideal",
                    total <= 1.15 * ideal,
                    f"{100 * (total - ideal) / ideal:+.0f}% over ideal (sum/2 + one papermill start "
                    f"{kernel_start:.1f} s)"))


def scenario_compare(quick: bool) -> None:
    runs, steps = (200, 1_000) if quick else (1_000, 1_000)
    print(f"compare: opening dlb.compare on {runs:,} runs x {steps:,} steps", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        r = worker(OURS, "compare_open.py", runs, steps, cwd=Path(tmp))
    RAW["compare"] = r
    ROWS.append(Row(f"open dlb.compare on {runs:,} runs x {steps:,} steps", _ms(r["open_s"]), "", "",
                    None, "< 1 s", r["open_s"] < 1.0,
                    f"median of 3 opens after a warm-up; {r['curve_points']:,} curve points drawn"))


# -- report --------------------------------------------------------------------------------

def versions(peers: str | None) -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("jupyter-dlbench", "duckdb", "pyarrow", "papermill", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    if peers:
        code = ("import json; from importlib import metadata as m; print(json.dumps({p: m.version(p) "
                f"for p in {PEER_PACKAGES[:-1]!r}}}))")
        done = subprocess.run([peers, "-c", code], capture_output=True, text=True)
        if done.returncode == 0:
            out.update({f"peer {k}": v for k, v in json.loads(done.stdout).items()})
    return out


def machine() -> str:
    import psutil

    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.platform()}"


def _merged(chosen: list[str]) -> tuple[list[Row], dict[str, Any]]:
    """This run's rows, plus the previous run's rows of scenarios not re-run now (``--only``
    refreshes part of the table; each row says which run measured it)."""
    previous = HERE / "results" / "latest.json"
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    if previous.exists():
        try:
            old = json.loads(previous.read_text())
            rows = [Row(**r) for r in old.get("rows", []) if r.get("group") and r["group"] not in chosen]
            raw = {k: v for k, v in old.get("raw", {}).items() if not any(k.startswith(c) for c in chosen)}
        except (ValueError, TypeError):
            rows, raw = [], {}
    order = {name: i for i, name in enumerate(SCENARIOS)}
    merged = sorted(rows + ROWS, key=lambda r: order.get(r.group, 99))  # stable within a group
    return merged, {**raw, **RAW}


def report(args: argparse.Namespace, peers: str | None, elapsed: float, chosen: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    rows, raw = _merged(chosen)
    table = Table(title="jupyter-dlbench benchmarks — medians of alternating rounds; "
                        "ratio = peer / ours, >1 means we are faster")
    for col in ("scenario", "ours", "peer", "peer median", "ratio", "target", "met", "notes", "run"):
        table.add_column(col)
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "NO")
        table.add_row(r.scenario, r.ours, r.peer, r.peer_value,
                      "" if r.ratio is None else f"{r.ratio:,.1f}x", r.target, met, r.note, r.run)
    Console(width=220).print(table)

    vers = versions(peers)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({
        "machine": machine(), "versions": vers, "rows": [r.__dict__ for r in rows], "raw": raw},
        indent=2, default=str))
    md = ["# Benchmarks", "",
          f"Measured by `make bench` (`benchmarks/run.py`) on {machine()}. Each row says which run "
          "measured it: full sizes or `QUICK=1` sizes, the date and the number of rounds "
          "(`--only` re-measures some scenarios and keeps the others).", "",
          "Method: each figure is the median of alternating rounds (ours, peer, ours, peer …), each "
          "contender in a fresh interpreter and a fresh temp folder; peers live in their own venv "
          "(`benchmarks/.peers-venv`). Ratio = peer / ours in time (ours / peer in throughput): above "
          "1 we are faster. Sources: `benchmarks/run.py`, `benchmarks/workers/`.", "",
          "| scenario | ours | peer | peer median | ratio | target | met | notes | run |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        ratio = "" if r.ratio is None else f"{r.ratio:,.1f}x"
        md.append(f"| {r.scenario} | {r.ours} | {r.peer} | {r.peer_value} | {ratio} | {r.target} | "
                  f"{met} | {r.note} | {r.run} |")
    md += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()), ""]
    missed = [r for r in rows if r.met is False]
    if missed:
        md += ["Targets missed: " + "; ".join(r.scenario.strip() or r.peer for r in missed), ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(md))
    print(f"wrote {out / 'latest.json'} and {ROOT / 'BENCHMARKS.md'} (this run: {elapsed / 60:.1f} min)")


SCENARIOS = ("logging", "training", "listing", "server", "compare", "data", "jobs", "sweep")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes (a few minutes)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="alternating rounds per scenario (default 3)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    parser.add_argument("--no-peers", action="store_true", help="measure ours only")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    if args.rounds is None:
        args.rounds = 3
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    t0 = time.perf_counter()
    peers = None if args.no_peers else peers_python()
    tag = f"{'QUICK' if args.quick else 'full'} {time.strftime('%Y-%m-%d')} x{args.rounds}"

    def measured(group: str, fn: Callable[[], None]) -> None:
        start, t0 = len(ROWS), time.perf_counter()
        fn()
        print(f"[{group}: {time.perf_counter() - t0:.0f} s]", flush=True)
        for r in ROWS[start:]:
            r.group, r.run = group, tag

    with tempfile.TemporaryDirectory() as work_s:
        work = Path(work_s)
        if "logging" in chosen:
            measured("logging", lambda: scenario_logging(peers, args.quick, args.rounds))
        if "training" in chosen:
            measured("training", lambda: scenario_training(args.quick, args.rounds))
        if "listing" in chosen or "server" in chosen:  # the server scenario needs its runs
            measured("listing", lambda: scenario_listing(peers if "listing" in chosen else None,
                                                         args.quick, args.rounds, work))
            if "listing" not in chosen:
                ROWS[:] = [r for r in ROWS if r.group != "listing"]
        if "server" in chosen:
            measured("server", lambda: scenario_server(args.quick, work))
        if "compare" in chosen:
            measured("compare", lambda: scenario_compare(args.quick))
        if "data" in chosen:
            measured("data", lambda: scenario_data(peers, args.quick, args.rounds))
        if "jobs" in chosen:
            measured("jobs", lambda: scenario_jobs(args.quick, args.rounds))
        if "sweep" in chosen:
            measured("sweep", lambda: scenario_sweep(args.quick))
    report(args, peers, time.perf_counter() - t0, chosen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
