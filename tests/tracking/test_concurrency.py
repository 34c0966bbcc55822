"""Many writers, one catalog: nothing lost, no lock error ever reaches a user."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb

LOGGER = """
import os, sys, jupyter_dlbench as dlb
run = dlb.init(project="stress", name="writer-" + sys.argv[1])
for step in range({steps}):
    run.log({{"loss": 1.0 / (step + 1), "acc": step * 1e-6, "lr": 0.1}}, step=step)
run.finish()
print(run.id)
"""

LISTER = """
import sys, time, jupyter_dlbench as dlb
deadline = time.time() + 600
loops = 0
while time.time() < deadline:
    dlb.runs(project="stress")
    dlb.sql("select key, count(*), max(step) from metrics group by key")
    loops += 1
    if open(sys.argv[1]).read() == "stop":
        break
print(loops)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_eight_loggers_and_a_busy_reader_lose_nothing(workspace_dir: Path, tmp_path: Path) -> None:
    steps = 100_000
    stop = tmp_path / "stop"
    stop.write_text("go")
    lister = _spawn(LISTER, str(stop))
    writers = [_spawn(LOGGER.format(steps=steps), str(i)) for i in range(8)]
    outs = [w.communicate(timeout=900) for w in writers]
    stop.write_text("stop")
    lister_out, lister_err = lister.communicate(timeout=300)
    for w, (_out, err) in zip(writers, outs, strict=True):
        assert w.returncode == 0, err
        assert "Error" not in err, err
    assert lister.returncode == 0, lister_err
    assert "lock" not in lister_err.lower(), lister_err
    assert int(lister_out.strip()) >= 1
    counts = dlb.sql(
        "select r.run_id, count(m.step) as n, count(distinct m.step) as steps, max(m.step) as last "
        "from runs r join metrics m using (run_id) where r.project = 'stress' "
        "and m.key in ('loss', 'acc', 'lr') group by r.run_id")
    assert len(counts) == 8
    assert set(counts["n"]) == {steps * 3}
    assert set(counts["steps"]) == {steps}
    assert set(counts["last"]) == {steps - 1}
    assert set(dlb.runs(project="stress")["status"]) == {"finished"}


INGESTER = """
import sys, jupyter_dlbench as dlb
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking.ingest import ingest
ws = Workspace.find()
run = dlb.init(project="ingest-stress", name=sys.argv[1])
for batch in range({batches}):
    for i in range({per_batch}):
        run.log({{"v": float(batch)}}, step=batch * {per_batch} + i)
    run.flush()
    with ws.catalog.session(write=True) as session:
        ingest(ws, session)
run.finish()
"""


@pytest.mark.slow
def test_catalog_stress_spawned_ingesters_never_lose_a_row(tmp_path: Path, monkeypatch) -> None:
    """DuckDB 2.0 lost whole committed batches when processes took turns on one file
    (MACHINE-NOTES §7); through our lock, 20 rounds of 8 processes must lose nothing."""
    batches, per_batch, procs, rounds = 8, 25, 8, 20
    for rnd in range(rounds):
        home = tmp_path / f"round{rnd}" / ".dlbench"
        monkeypatch.setenv("DLBENCH_HOME", str(home))
        monkeypatch.setenv("DLBENCH_CAPTURE_PACKAGES", "0")
        workers = [_spawn(INGESTER.format(batches=batches, per_batch=per_batch), f"p{i}")
                   for i in range(procs)]
        for w in workers:
            _, err = w.communicate(timeout=600)
            assert w.returncode == 0, err
        total = dlb.sql("select count(*) as n, count(distinct run_id || '/' || step) as u "
                        "from metrics where key = 'v'")
        assert total["n"][0] == procs * batches * per_batch, f"round {rnd}: rows lost"
        assert total["u"][0] == procs * batches * per_batch, f"round {rnd}: rows duplicated"


@pytest.mark.slow
def test_direct_small_batch_inserts_through_the_lock_lose_nothing(tmp_path: Path, monkeypatch) -> None:
    """The exact pattern that lost rows in MACHINE-NOTES §7 (open, insert 100 rows, close),
    with every open going through the catalog lock."""
    home = tmp_path / ".dlbench"
    monkeypatch.setenv("DLBENCH_HOME", str(home))
    code = """
    import sys, pyarrow as pa
    from jupyter_dlbench.store import Workspace
    ws = Workspace.find()
    me = sys.argv[1]
    for b in range(40):
        t = pa.table({"run_id": [me] * 100, "key": ["k"] * 100, "step": list(range(b * 100, b * 100 + 100)),
                      "value": [1.0] * 100, "ts": [0.0] * 100})
        with ws.catalog.session(write=True) as s:
            s.insert_arrow("metric_rows", t, ["run_id", "key", "step", "value", "ts"])
    """
    start = time.time()
    workers = [_spawn(code, f"p{i}") for i in range(8)]
    for w in workers:
        _, err = w.communicate(timeout=600)
        assert w.returncode == 0, err
    n = dlb.sql("select count(*) as n from metrics")["n"][0]
    assert n == 8 * 40 * 100, f"{8 * 40 * 100 - n} rows lost in {time.time() - start:.0f} s"
    assert os.path.exists(home / "catalog.lock")
