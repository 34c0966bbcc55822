"""Hostile strings in run names, tags, param keys/values and metric names: HTML/JS,
``__proto__``, spreadsheet formula prefixes, 100,000 characters, lone surrogates (undecodable
bytes), NUL, NaN/inf. Values are stored faithfully and read back unchanged; names are bounded
(1,000 characters) and must be valid Unicode, refused with a clear error otherwise; and no
string, however it reached a journal, can stop the workspace from being read."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.tracking.journal import JournalWriter, encode_event, pack_metric_buffer

HOSTILE = {
    "html": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "proto": "__proto__",
    "constructor": "constructor.prototype",
    "formula_eq": '=HYPERLINK("http://evil","x")',
    "formula_plus": "+1+cmd|' /C calc'!A0",
    "formula_at": "@SUM(A1:A9)",
    "formula_minus": "-2+3",
    "long": "x" * 100_000,
    "rtl": "\u202egnp.exe",
    "nul": "a\x00b",
    "quotes": "'\"`${x}",
    "surrogate": "bad\udc80end",
    "emoji": "🔥\u200d",
}
NUMBERS = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "big": 1e308, "tiny": 5e-324}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_hostile_param_values_round_trip_exactly(workspace_dir: Path) -> None:
    params = {**HOSTILE, **NUMBERS}
    with dlb.init(name="<b>bold</b> =1+1 __proto__", params=params, tags=["<i>t</i>", "=x"]) as run:
        run.log({"loss": 0.5})
    info = dlb.run_info(run.id)
    for key, value in params.items():
        assert _same(value, info["params"][key]), f"param {key!r} changed: {info['params'][key]!r:.80}"
    assert info["name"] == "<b>bold</b> =1+1 __proto__"
    assert info["tags"] == ["<i>t</i>", "=x"]
    frame = dlb.runs()
    assert frame["params.html"][0] == HOSTILE["html"], "dlb.runs shows the text, unescaped and unchanged"
    assert frame["params.long"][0] == HOSTILE["long"]


def test_hostile_metric_names_round_trip(workspace_dir: Path) -> None:
    names = ["<svg onload=alert(1)>", "__proto__", "=cmd|' /C calc'!A0", "+x", "@y", "a/b\\c", "m" * 1000]
    with dlb.init() as run:
        run.log({n: float(i) for i, n in enumerate(names)}, step=0)
        run.log({"nan": math.nan, "inf": math.inf, "ninf": -math.inf}, step=0)
    info = dlb.run_info(run.id)
    assert set(info["metrics"]) == {*names, "nan", "inf", "ninf"}
    assert [info["metrics"][n]["last"] for n in names] == [float(i) for i in range(len(names))]
    assert math.isnan(info["metrics"]["nan"]["last"]) and info["metrics"]["ninf"]["last"] == -math.inf
    assert set(dlb.metrics(run.id)["key"]) >= set(names)


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: dlb.init(name="n" * 100_000), "run name .* is 100000 characters long; at most 1000"),
    (lambda: dlb.init(params={"k" * 100_000: 1}), "param name .* at most 1000"),
    (lambda: dlb.init(tags=["t" * 100_000]), "tag name .* at most 1000"),
    (lambda: dlb.init(name="bad\udc80name"), "not valid Unicode"),
    (lambda: dlb.init(params={"k\ud800": 1}), "param name .* not valid Unicode"),
    (lambda: dlb.init(name="two\nlines"), "NUL or line break"),
    (lambda: dlb.init(project="p\x00"), "NUL or line break"),
])
def test_names_that_would_hurt_are_refused_with_a_clear_error(workspace_dir: Path, call, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        call()
    assert dlb.runs().empty, "nothing half-created"


@pytest.mark.parametrize("name", ["m" * 100_000, "m\udc80", "line\nbreak"])
def test_hostile_metric_names_are_refused_at_the_log_call(workspace_dir: Path, name: str) -> None:
    with dlb.init() as run:
        run.log({"ok": 1.0}, step=0)
        with pytest.raises(InvalidInput, match="metric name"):
            run.log({name: 1.0}, step=1)
        run.log({"ok": 2.0}, step=1)
    assert list(dlb.metrics(run.id, "ok")["value"]) == [1.0, 2.0]


def test_a_journal_carrying_lone_surrogates_cannot_stop_the_workspace_being_read(workspace_dir: Path) -> None:
    """A journal from another writer (an older release, a hand-made tool) bypasses our checks:
    ingest must store what it can, never fail every future read of the workspace."""
    with dlb.init(name="good") as good:
        good.log({"x": 1.0})
    run_id = "20260101-000000-bad001"
    folder = workspace_dir / "runs" / run_id
    folder.mkdir(parents=True)
    writer = JournalWriter(folder / "journal.dlj")
    writer.append([
        encode_event({"t": "start", "run_id": run_id, "project": "default", "name": "n\udc80",
                      "ts": time.time(), "tags": ["t\ud800"]}),
        encode_event({"t": "params", "params": {"k\udc81": ["v\udc82", "explicit"]}}),
        pack_metric_buffer([(("m\udc83",), 0, time.time(), (1.0,))]),
        encode_event({"t": "end", "status": "finished", "ts": time.time()}),
    ])
    writer.close()
    frame = dlb.runs()
    assert set(frame["run_id"]) == {good.id, run_id}
    info = dlb.run_info(run_id)
    assert info["name"] == "n\\udc80", "stored as its escape text"
    assert list(info["metrics"]) == ["m\\udc83"]
    assert json.dumps(info["params"], ensure_ascii=False)  # valid Unicode all the way out
