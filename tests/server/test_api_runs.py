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
    assert body == {"runs": [], "total": 0, "workspace": body["workspace"]}
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
