"""Journal recovery under damage: any truncation or single flipped byte of a valid journal reads
back as exactly the complete records before the damage — never a misread record, never an
exception — and ``doctor`` says what was dropped; ``doctor --rebuild`` restores a catalog that
was truncated or overwritten with garbage."""

from __future__ import annotations

import bisect
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_dlbench as dlb
from jupyter_dlbench.cli import main as cli
from jupyter_dlbench.errors import CatalogCorrupt
from jupyter_dlbench.tracking.journal import MAGIC, encode_event, pack_metric_buffer, read_journal


def _records() -> list[bytes]:
    records = [encode_event({"t": "start", "run_id": "r1", "name": "fuzz", "ts": 1.0})]
    records.append(encode_event({"t": "params", "params": {"lr": [0.1, "explicit"],
                                                             "note": ["ünïcode \x00 \"q\"", "explicit"]}}))
    for b in range(4):
        entries = [(("loss", "acc"), b * 50 + i, 2.0 + i, (1.0 / (i + 1), math.nan if i == 3 else i))
                   for i in range(50)]
        records.append(pack_metric_buffer(entries))
        records.append(encode_event({"t": "heartbeat", "ts": 3.0 + b}))
    records.append(encode_event({"t": "end", "status": "finished", "ts": 9.0}))
    return records


RECORDS = _records()
JOURNAL = MAGIC + b"".join(RECORDS)
# byte offset at which each record ends (record k occupies [ENDS[k-1], ENDS[k]))
ENDS = list(np.cumsum([len(MAGIC)] + [len(r) for r in RECORDS]))[1:]


def _decoded(data: bytes, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "journal.dlj"
    path.write_bytes(data)
    return read_journal(path)


def _fingerprint(chunk) -> list:  # type: ignore[no-untyped-def]
    """Everything a reader got out, in order, comparable across reads (NaN-safe)."""
    out = [("event", repr(e)) for e in chunk.events]
    for m in chunk.metrics:
        out.append(("metrics", tuple(m.keys), m.key_idx.tobytes(), m.steps.tobytes(),
                    m.values.tobytes(), m.ts.tobytes()))
    return out


def _complete_before(position: int) -> int:
    """How many records end at or before ``position``."""
    return bisect.bisect_right(ENDS, position)


FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_intact_journal_reads_every_record(tmp_path: Path) -> None:
    chunk = _decoded(JOURNAL, tmp_path)
    assert chunk.records == len(RECORDS) and chunk.problem is None and chunk.trailing_bytes == 0
    assert sum(len(m.steps) for m in chunk.metrics) == 4 * 50 * 2


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(JOURNAL)))
def test_any_truncation_recovers_exactly_the_complete_records(tmp_path: Path, cut: int) -> None:
    full = _fingerprint(_decoded(JOURNAL, tmp_path))
    chunk = _decoded(JOURNAL[:cut], tmp_path)
    kept = _complete_before(cut)
    assert chunk.records == kept
    assert chunk.problem is None, "a torn tail is incomplete, not corrupt"
    got = _fingerprint(chunk)
    assert got == _prefix(full, kept)
    start = ENDS[kept - 1] if kept else (len(MAGIC) if cut >= len(MAGIC) else 0)
    assert chunk.trailing_bytes == cut - start, "the torn tail is measured for the report"


def _prefix(full: list, records: int) -> list:  # type: ignore[type-arg]
    """The fingerprint of the first ``records`` records (events and metrics are listed apart)."""
    events = metrics = 0
    for r in RECORDS[:records]:
        if r[8] == 1:
            events += 1
        else:
            metrics += 1
    all_events = [x for x in full if x[0] == "event"]
    all_metrics = [x for x in full if x[0] == "metrics"]
    return all_events[:events] + all_metrics[:metrics]


@FUZZ
@given(position=st.integers(min_value=0, max_value=len(JOURNAL) - 1),
       mask=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_recovers_exactly_the_records_before_it(tmp_path: Path, position: int,
                                                                 mask: int) -> None:
    full = _fingerprint(_decoded(JOURNAL, tmp_path))
    damaged = bytearray(JOURNAL)
    damaged[position] ^= mask
    chunk = _decoded(bytes(damaged), tmp_path)
    if position < len(MAGIC):
        assert chunk.records == 0 and chunk.problem and "not a dlbench journal" in chunk.problem
        return
    kept = _complete_before(position)
    assert chunk.records == kept, "a damaged record was read, or an intact one before it dropped"
    assert _fingerprint(chunk) == _prefix(full, kept)
    # the damage is either named (checksum, impossible length) or left as an unreadable tail
    assert chunk.problem is not None or chunk.trailing_bytes > 0


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(JOURNAL)))
def test_reading_a_growing_journal_in_two_steps_equals_reading_it_once(tmp_path: Path, cut: int) -> None:
    """What ingest does with a live run: read what is there, later read on from ``end``."""
    path = tmp_path / "journal.dlj"
    path.write_bytes(JOURNAL[:cut])
    first = read_journal(path)
    path.write_bytes(JOURNAL)  # the writer appended the rest
    second = read_journal(path, first.end)
    assert first.records + second.records == len(RECORDS)
    assert second.problem is None and second.trailing_bytes == 0
    both = [*_fingerprint(first), *_fingerprint(second)]
    assert sorted(both, key=repr) == sorted(_fingerprint(_decoded(JOURNAL, tmp_path)), key=repr)


@FUZZ
@given(tail=st.binary(max_size=300))
def test_garbage_after_valid_records_never_raises(tmp_path: Path, tail: bytes) -> None:
    full = _fingerprint(_decoded(JOURNAL, tmp_path))
    chunk = _decoded(JOURNAL + tail, tmp_path)
    assert chunk.records >= len(RECORDS)
    assert _prefix(_fingerprint(chunk), len(RECORDS)) == full, "the valid records read unchanged"


def _finished_run(steps: int = 40) -> str:
    with dlb.init(project="fuzz", params={"lr": 0.01}) as run:
        for i in range(steps):
            run.log({"loss": float(i)}, step=i)
            if i % 10 == 9:
                run.flush()  # several metric records, so damage can land in the middle
    return run.id


def test_flipped_byte_mid_journal_keeps_the_prefix_and_doctor_names_the_run(
        workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _finished_run()
    intact = _finished_run()
    journal = workspace_dir / "runs" / run_id / "journal.dlj"
    data = bytearray(journal.read_bytes())
    full = read_journal(journal)
    assert len(full.metrics) >= 4
    # damage the third metric record's payload
    offsets, pos = [], len(MAGIC)
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "little")
        offsets.append((pos, data[pos + 8]))
        pos += 9 + length
    third_metrics = [p for p, kind in offsets if kind == 2][2]
    data[third_metrics + 20] ^= 0x40
    journal.write_bytes(bytes(data))
    assert cli(["doctor", "--rebuild"]) == 0
    steps = list(dlb.metrics(run_id, "loss")["step"])
    assert steps == list(range(20)), "the two records before the damage, nothing after"
    assert len(dlb.metrics(intact, "loss")) == 40, "other runs are untouched"
    assert dlb.run_info(run_id)["status"] == "crashed"
    capsys.readouterr()
    assert cli(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"run {run_id}" in out and "damaged: checksum mismatch" in out and "torn tail" not in out


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_doctor_rebuild_restores_a_damaged_catalog_from_the_journals(
        workspace_dir: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _finished_run(steps=25)
    before = dlb.runs()
    catalog = workspace_dir / "catalog.duckdb"
    data = catalog.read_bytes()
    catalog.write_bytes({"truncated": data[: len(data) // 3], "garbage": bytes(range(256)) * 64,
                         "empty": b""}[damage])
    if damage != "empty":
        with pytest.raises(CatalogCorrupt, match="doctor --rebuild"):
            dlb.runs()
        capsys.readouterr()
        assert cli(["doctor"]) == 1
        assert "doctor --rebuild" in capsys.readouterr().out
    assert cli(["doctor", "--rebuild"]) == 0
    after = dlb.runs()
    assert list(after["run_id"]) == list(before["run_id"]) == [run_id]
    assert after["params.lr"][0] == 0.01
    assert list(dlb.metrics(run_id, "loss")["step"]) == list(range(25))
    assert list(workspace_dir.glob("catalog.duckdb.old-*")), "the damaged file is kept aside"
