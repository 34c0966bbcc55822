"""Everything at once for half a minute: 16 processes logging, 2 adding dataset versions, a
reader listing runs through ``dlb.runs()`` and a CLI querying ``dlbench runs ls`` in a loop.
Zero lock errors reach anyone, and at the end every point and every version is there.

(tests/tracking/test_concurrency.py hammers the catalog lock itself with 8 loggers and
spawned ingesters; this one is the mixed workload a real session produces.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench import data
from jupyter_dlbench.store import Workspace
from tests.reliability.helpers import spawn_script

SECONDS = float(os.environ.get("DLBENCH_STRESS_SECONDS", "30"))
LOGGERS = 16

LOGGER = """
import os, sys, time, jupyter_dlbench as dlb
stop = sys.argv[1]
run = dlb.init(project="minute", name="writer-" + sys.argv[2])
step = 0
while not os.path.exists(stop):
    for _ in range(100):
        run.log({"loss": 1.0 / (step + 1), "acc": step * 1e-6}, step=step)
        step += 1
    time.sleep(0.05)
run.finish()
print(run.id, step)
"""

READER = """
import os, sys, jupyter_dlbench as dlb
stop, loops = sys.argv[1], 0
while not os.path.exists(stop):
    dlb.runs(project="minute")
    dlb.sql("select run_id, count(*) from metrics group by run_id")
    loops += 1
print(loops)
"""

CLI = """
import os, subprocess, sys
stop, loops, failures = sys.argv[1], 0, []
while not os.path.exists(stop):
    done = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "runs", "ls", "--json"],
                          capture_output=True, text=True)
    loops += 1
    if done.returncode != 0:
        failures.append(done.stderr.strip())
print(loops, len(failures))
print("\\n".join(failures), file=sys.stderr)
"""

ADDER = """
import os, sys, jupyter_dlbench as dlb
stop, name, folder = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(folder, exist_ok=True)
added = 0
while not os.path.exists(stop):
    with open(os.path.join(folder, "part.txt"), "w") as f:
        f.write(f"{name} version {added}\\n" * 1000)
    with open(os.path.join(folder, f"extra-{added}.csv"), "w") as f:
        f.write("a,b\\n1,2\\n")
    dlb.log_dataset(name, folder, message=f"round {added}")
    added += 1
print(added)
"""


@pytest.mark.slow
def test_sixteen_loggers_two_dataset_writers_a_reader_and_the_cli_lose_nothing(
        workspace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBENCH_CAPTURE_PACKAGES", "0")
    monkeypatch.setenv("DLBENCH_CAPTURE_SYSTEM", "0")
    stop = tmp_path / "stop"
    loggers = [spawn_script(LOGGER, str(stop), str(i)) for i in range(LOGGERS)]
    reader = spawn_script(READER, str(stop))
    cli = spawn_script(CLI, str(stop))
    adders = [spawn_script(ADDER, str(stop), f"ds{i}", str(tmp_path / f"data{i}")) for i in range(2)]
    time.sleep(SECONDS)
    stop.write_text("stop")
    results = {}
    for name, proc in [*((f"logger{i}", p) for i, p in enumerate(loggers)), ("reader", reader),
                       ("cli", cli), ("adder0", adders[0]), ("adder1", adders[1])]:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name} failed:\n{err}"
        for bad in ("lock", "busy", "Traceback", "Error"):
            assert bad not in err, f"{name} saw {bad!r}:\n{err}"
        results[name] = out.split()

    cli_loops, cli_failures = map(int, results["cli"])
    assert cli_failures == 0 and cli_loops >= 1
    assert int(results["reader"][0]) >= 1
    written = {results[f"logger{i}"][0]: int(results[f"logger{i}"][1]) for i in range(LOGGERS)}
    counts = dlb.sql(
        "select run_id, count(*) as n, count(distinct step) as steps, max(step) as last "
        "from metrics where key in ('loss', 'acc') group by run_id")
    got = {r: (n, s, last) for r, n, s, last in counts.values.tolist()}
    assert set(got) == set(written), "a run is missing"
    for run_id, steps in written.items():
        assert got[run_id] == (2 * steps, steps, steps - 1), f"run {run_id} lost or duplicated points"
    assert set(dlb.runs(project="minute")["status"]) == {"finished"}

    ws = Workspace.find()
    with ws.catalog.session(write=False) as session:
        for i in range(2):
            versions = data.list_versions(session, f"ds{i}")
            assert len(versions) == int(results[f"adder{i}"][0]) >= 1, f"ds{i}: versions lost"
    listed = subprocess.run([sys.executable, "-m", "jupyter_dlbench.cli", "runs", "ls", "--json"],
                            capture_output=True, text=True, check=True, timeout=120)
    assert len([r for r in json.loads(listed.stdout) if r["project"] == "minute"]) == LOGGERS
