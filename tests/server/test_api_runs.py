"""GET /dlbench/api/runs, /runs/{id} and /runs/{id}/metrics against real runs."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

RUNS = "/dlbench/api/runs"


async def test_listing_shows_runs_with_params_and_last_metrics(api: Any, make_run: Any) -> None:
    run_id = make_run(
        name="baseline",
        params={"lr": 0.001, "optimizer": "adam"},
        history=[{"loss": 1.0, "acc": 0.5}, {"loss": 0.25, "acc": 0.75}],
    )
    status, body = await api.get(RUNS)
    assert status == 200
    assert body["total"] == 1
    assert body["workspace"].endswith(".dlbench")
    [run] = body["runs"]
    assert run["run_id"] == run_id
    assert (run["project"], run["name"], run["status"]) == ("digits", "baseline", "finished")
    assert run["params"] == {"lr": 0.001, "optimizer": "adam"}
    assert run["metrics"] == {"acc": 0.75, "loss": 0.25}
    assert run["started_at"].endswith("+00:00") and run["ended_at"] >= run["started_at"]
    assert run["duration_s"] >= 0


async def test_listing_leaves_out_params_and_metrics_a_run_does_not_have(
    api: Any, make_run: Any
) -> None:
    a = make_run(params={"lr": 0.1}, history=[{"loss": 1.0}])
    b = make_run(params={"batch": 32}, history=[{"acc": 0.5}])
    _, body = await api.get(RUNS)
    runs = {r["run_id"]: r for r in body["runs"]}
    assert runs[a]["params"] == {"lr": 0.1} and runs[a]["metrics"] == {"loss": 1.0}
    assert runs[b]["params"] == {"batch": 32} and runs[b]["metrics"] == {"acc": 0.5}


async def test_listing_filters_by_project_and_where(api: Any, make_run: Any) -> None:
    for lr in (0.1, 0.01, 0.001):
        make_run(project="sweep", params={"lr": lr}, history=[{"acc": 1 - lr}])
    make_run(project="other", params={"lr": 0.5})
    _, body = await api.get(RUNS, params={"project": "sweep"})
    assert body["total"] == 3 and {r["project"] for r in body["runs"]} == {"sweep"}
    _, body = await api.get(RUNS, params={"project": "sweep", "where": "params.lr < 0.05"})
    assert sorted(r["params"]["lr"] for r in body["runs"]) == [0.001, 0.01]
    _, body = await api.get(RUNS, params={"where": "metrics.acc > 0.95"})
    assert sorted(r["params"]["lr"] for r in body["runs"]) == [0.001, 0.01]
    _, body = await api.get(RUNS, params={"project": "nope"})
    assert body == {"runs": [], "total": 0, "offset": 0, "workspace": body["workspace"]}
    _, body = await api.get(RUNS, params={"project": "", "where": ""})  # empty means "not given"
    assert body["total"] == 4


async def test_limit_cuts_the_list_but_total_counts_all(api: Any, make_run: Any) -> None:
    ids = [make_run() for _ in range(3)]
    _, body = await api.get(RUNS, params={"limit": "2"})
    assert body["total"] == 3 and len(body["runs"]) == 2
    assert {r["run_id"] for r in body["runs"]} < set(ids)
    _, body = await api.get(RUNS, params={"limit": "0"})
    assert body["total"] == 3 and body["runs"] == []


@pytest.mark.parametrize("limit", ["abc", "-1", "1.5", "10001", "1e3", "99999999999999999999"])
async def test_bad_limit_is_a_400_naming_the_rule(api: Any, workspace_dir: Any, limit: str) -> None:
    status, body = await api.get(RUNS, params={"limit": limit})
    assert status == 400
    assert body["code"] == "invalid_input"
    assert body["message"] == f"limit must be a whole number from 0 to 10000, got {limit!r}"


@pytest.mark.parametrize(
    ("where", "code", "fragment"),
    [
        ("params.nope > 1", "query_error", "params.nope"),
        ("this is not sql", "query_error", "cannot filter runs"),
        ("1=1; drop table run_rows", "invalid_input", "one SQL expression"),
    ],
)
async def test_bad_where_is_a_400_with_the_reason(
    api: Any, make_run: Any, where: str, code: str, fragment: str
) -> None:
    make_run(params={"lr": 0.1})
    status, body = await api.get(RUNS, params={"where": where})
    assert status == 400
    assert body["code"] == code
    assert fragment in body["message"]
    _, listing = await api.get(RUNS)
    assert listing["total"] == 1  # nothing was dropped


async def test_run_detail(api: Any, make_run: Any) -> None:
    run_id = make_run(
        name="detail",
        params={"lr": 0.1, "layers": [64, 32], "flag": True},
        history=[{"loss": 2.0}, {"loss": 1.0}, {"loss": 1.5}],
    )
    status, body = await api.get(f"{RUNS}/{run_id}")
    assert status == 200
    assert body["run_id"] == run_id and body["name"] == "detail" and body["status"] == "finished"
    assert body["params"] == {"lr": 0.1, "layers": [64, 32], "flag": True}
    assert body["metrics"]["loss"] == {
        "last": 1.5,
        "last_step": 2,
        "min": 1.0,
        "max": 2.0,
        "count": 3,
    }
    assert body["started_at"].endswith("+00:00")
    assert body["artifacts"] == []
    assert isinstance(body["environment"], dict) and isinstance(body["hardware"], dict)


async def test_run_detail_by_unique_prefix_and_ambiguous_prefix(api: Any, make_run: Any) -> None:
    first, second = make_run(), make_run()
    common = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    _, body = await api.get(f"{RUNS}/{first[: common + 1]}")
    assert body["run_id"] == first
    if common > 0:
        status, body = await api.get(f"{RUNS}/{first[:common]}")
        assert status == 400 and body["code"] == "ambiguous_run"


@pytest.mark.parametrize("suffix", ["", "/metrics"])
async def test_unknown_run_is_a_404_json(api: Any, workspace_dir: Any, suffix: str) -> None:
    status, body = await api.get(f"{RUNS}/no-such-run{suffix}")
    assert status == 404
    assert body["code"] == "run_not_found"
    assert "no-such-run" in body["message"]


@pytest.mark.parametrize("suffix", ["", "/metrics"])
@pytest.mark.parametrize("bad", ["bad id", "bad!id", "x" * 201, "é"])
async def test_malformed_run_id_is_a_400(
    api: Any, workspace_dir: Any, bad: str, suffix: str
) -> None:
    status, body = await api.get(f"{RUNS}/{bad}{suffix}")
    assert status == 400
    assert body["code"] == "invalid_input"
    assert "run ids are 1 to 200 letters, digits" in body["message"]


async def test_metric_history(api: Any, make_run: Any) -> None:
    run_id = make_run(history=[{"loss": 1.0 / (s + 1), "acc": s / 10} for s in range(5)])
    status, body = await api.get(f"{RUNS}/{run_id}/metrics", params={"key": "loss"})
    assert status == 200 and body["run_id"] == run_id
    assert list(body["metrics"]) == ["loss"]
    loss = body["metrics"]["loss"]
    assert loss["steps"] == [0, 1, 2, 3, 4]
    assert loss["values"] == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])
    assert loss["wall_time"] == sorted(loss["wall_time"])
    assert abs(loss["wall_time"][0] - time.time()) < 600  # epoch seconds, UTC
    _, body = await api.get(f"{RUNS}/{run_id}/metrics")
    assert {"acc", "loss"} <= set(body["metrics"])
    assert body["metrics"]["acc"]["values"] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


async def test_metric_history_unknown_key_names_the_known_ones(api: Any, make_run: Any) -> None:
    run_id = make_run(history=[{"loss": 1.0}])
    status, body = await api.get(f"{RUNS}/{run_id}/metrics", params={"key": "lsos"})
    assert status == 404 and body["code"] == "not_found"
    assert "'lsos'" in body["message"] and "'loss'" in body["message"]


async def test_nan_and_infinity_are_strings_never_invalid_json(api: Any, make_run: Any) -> None:
    run_id = make_run(
        params={"eps": math.inf},
        history=[
            {"loss": 1.0, "grad": math.inf, "neg": -math.inf},
            {"loss": math.nan, "grad": 1.0, "neg": 2.0},
        ],
    )
    _, body = await api.get(RUNS)
    assert body["runs"][0]["metrics"] == {"loss": "NaN", "grad": 1.0, "neg": 2.0}
    _, body = await api.get(f"{RUNS}/{run_id}")
    assert body["metrics"]["loss"]["last"] == "NaN"
    assert body["metrics"]["grad"]["max"] == "Infinity"
    assert body["metrics"]["neg"]["min"] == "-Infinity"
    assert body["params"]["eps"] == "Infinity"
    _, body = await api.get(f"{RUNS}/{run_id}/metrics")
    assert body["metrics"]["loss"]["values"] == [1.0, "NaN"]
    assert body["metrics"]["grad"]["values"] == ["Infinity", 1.0]


async def test_running_run_has_null_end(api: Any, workspace_dir: Any) -> None:
    import jupyter_dlbench as dlb

    run = dlb.init(project="live")
    try:
        run.log({"loss": 1.0}, step=0)
        _, body = await api.get(RUNS)
        [listed] = body["runs"]
        assert listed["status"] == "running"
        assert listed["ended_at"] is None and listed["duration_s"] is None
        _, detail = await api.get(f"{RUNS}/{run.id}")
        assert detail["ended_at"] is None and detail["duration_s"] is None
    finally:
        run.finish()


async def test_server_answers_while_the_catalog_is_locked(
    api: Any, make_run: Any, workspace_dir: Any
) -> None:
    from jupyter_dlbench.store import Workspace
    from jupyter_dlbench.store.lock import file_lock

    make_run()
    ws = Workspace.find()
    with file_lock(ws.catalog.lock_path, exclusive=True, timeout=5):
        listing = asyncio.ensure_future(api.get(RUNS))
        await asyncio.sleep(0.3)
        status, _ = await api.get("/dlbench/api/health")  # the event loop is free
        assert status == 200
        assert not listing.done()
    status, body = await listing
    assert status == 200 and body["total"] == 1


async def test_listing_filters_by_status_and_name_text(api: Any, make_run: Any) -> None:
    import jupyter_dlbench as dlb

    make_run(name="resnet-small")
    make_run(name="ResNet-large")
    make_run(name="mlp")
    failed = dlb.init(name="resnet-broken")
    failed.finish("failed")
    _, body = await api.get(RUNS, params={"q": "resnet"})
    assert sorted(r["name"] for r in body["runs"]) == ["ResNet-large", "resnet-broken",
                                                       "resnet-small"]
    _, body = await api.get(RUNS, params={"q": "resnet", "status": "failed"})
    assert [r["name"] for r in body["runs"]] == ["resnet-broken"] and body["total"] == 1
    _, body = await api.get(RUNS, params={"status": "finished,failed"})
    assert body["total"] == 4
    _, body = await api.get(RUNS, params={"q": failed.id[-6:]})  # ids match too
    assert [r["run_id"] for r in body["runs"]] == [failed.id]


async def test_listing_sorts_by_a_metric_or_param_with_missing_values_last(
    api: Any, make_run: Any
) -> None:
    for lr, acc in ((0.1, 0.7), (0.01, 0.9), (0.001, 0.8)):
        make_run(params={"lr": lr}, history=[{"acc": acc}])
    make_run(params={"lr": 0.5})  # never logged acc
    _, body = await api.get(RUNS, params={"sort": "-metrics.acc"})
    assert [r["metrics"].get("acc") for r in body["runs"]] == [0.9, 0.8, 0.7, None]
    _, body = await api.get(RUNS, params={"sort": "metrics.acc"})
    assert [r["metrics"].get("acc") for r in body["runs"]] == [0.7, 0.8, 0.9, None]
    _, body = await api.get(RUNS, params={"sort": "params.lr"})
    assert [r["params"]["lr"] for r in body["runs"]] == [0.001, 0.01, 0.1, 0.5]
    _, newest_first = await api.get(RUNS)
    _, oldest_first = await api.get(RUNS, params={"sort": "started_at"})
    assert [r["run_id"] for r in oldest_first["runs"]] == [
        r["run_id"] for r in newest_first["runs"]][::-1]
    status, body = await api.get(RUNS, params={"sort": "-metrics.nope"})
    assert status == 400 and "cannot sort by 'metrics.nope'" in body["message"]


async def test_offset_and_limit_page_through_all_runs_once(api: Any, make_run: Any) -> None:
    ids = {make_run() for _ in range(5)}
    seen: list[str] = []
    for offset in (0, 2, 4, 6):
        _, body = await api.get(RUNS, params={"offset": str(offset), "limit": "2"})
        assert body["total"] == 5 and body["offset"] == offset
        seen += [r["run_id"] for r in body["runs"]]
    assert len(seen) == 5 and set(seen) == ids


async def test_listing_shows_new_runs_and_status_changes_between_calls(
    api: Any, make_run: Any
) -> None:
    import jupyter_dlbench as dlb

    first = make_run()
    _, body = await api.get(RUNS)
    assert [r["run_id"] for r in body["runs"]] == [first]
    live = dlb.init(name="live")
    try:
        _, body = await api.get(RUNS, params={"status": "running"})
        assert [r["run_id"] for r in body["runs"]] == [live.id]
        live.log({"loss": 0.5}, step=0)
        live.flush()
        _, body = await api.get(RUNS, params={"q": "live"})
        assert body["runs"][0]["metrics"] == {"loss": 0.5}
    finally:
        live.finish()
    _, body = await api.get(RUNS, params={"q": "live"})
    assert body["runs"][0]["status"] == "finished"


async def test_metrics_for_several_keys(api: Any, make_run: Any) -> None:
    run_id = make_run(history=[{"loss": 1.0, "acc": 0.1, "lr": 0.1} for _ in range(3)])
    status, body = await api.get(f"{RUNS}/{run_id}/metrics", params={"keys": "loss, acc"})
    assert status == 200 and set(body["metrics"]) == {"loss", "acc"}
    assert body["metrics"]["acc"]["count"] == 3 and body["metrics"]["acc"]["sampled"] is False
    status, body = await api.get(f"{RUNS}/{run_id}/metrics", params={"keys": "loss,nope"})
    assert status == 404 and "'nope'" in body["message"] and "'lr'" in body["message"]


async def test_metrics_downsampled_keep_spikes_nan_and_both_ends(
    api: Any, workspace_dir: Any
) -> None:
    import jupyter_dlbench as dlb

    run = dlb.init()
    values = [1.0 / (1 + s / 100) for s in range(20_000)]
    values[7_777] = 50.0  # a spike
    values[12_345] = math.nan  # a diverged step
    values[15_000] = -3.0  # a dip
    for step, value in enumerate(values):
        run.log({"loss": value}, step=step)
    run.finish()
    status, body = await api.get(f"{RUNS}/{run.id}/metrics",
                                 params={"keys": "loss", "points": "500"})
    loss = body["metrics"]["loss"]
    assert status == 200 and loss["count"] == 20_000 and loss["sampled"] is True
    assert len(loss["steps"]) <= 500 and loss["steps"] == sorted(loss["steps"])
    assert {0, 7_777, 12_345, 15_000, 19_999} <= set(loss["steps"])
    kept = dict(zip(loss["steps"], loss["values"], strict=True))
    assert kept[7_777] == 50.0 and kept[12_345] == "NaN" and kept[15_000] == -3.0
    assert len(loss["wall_time"]) == len(loss["steps"])
    status, body = await api.get(f"{RUNS}/{run.id}/metrics", params={"points": "3"})
    assert status == 400 and body["field"] == "points"


async def test_a_listing_of_10000_runs_is_cached_between_calls(
    api: Any, make_run: Any, jp_serverapp: Any
) -> None:
    """Not a timing test: what keeps 10,000 runs fast is that an unchanged workspace is not
    read again; this checks the reads."""
    make_run()
    listing = jp_serverapp.web_app.settings["dlbench_listing"]
    await api.get(RUNS)
    before = listing.refreshes
    for _ in range(3):
        await api.get(RUNS, params={"sort": "-started_at", "limit": "10"})
    assert listing.refreshes == before
    make_run()
    _, body = await api.get(RUNS)
    assert body["total"] == 2 and listing.refreshes == before + 1


async def test_a_killed_run_shows_as_crashed_although_its_files_stopped_changing(
    api: Any, workspace_dir: Any
) -> None:
    """The listing is cached while files do not change; a run killed with SIGKILL changes
    nothing more, so the cache must still look again (every few seconds while runs are open)."""
    import os
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", "import time, jupyter_dlbench as dlb\nrun = dlb.init(name='doomed')"
         "\nrun.log({'loss': 1.0}, step=0)\nrun.flush()\nprint(run.id, flush=True)\n"
         "time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        run_id = child.stdout.readline().strip()
        _, body = await api.get(RUNS, params={"q": "doomed"})
        assert [(r["run_id"], r["status"]) for r in body["runs"]] == [(run_id, "running")]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 30
    while True:
        _, body = await api.get(RUNS, params={"q": "doomed"})
        if body["runs"][0]["status"] == "crashed":
            break
        assert time.monotonic() < deadline, body["runs"][0]
        await asyncio.sleep(0.5)
