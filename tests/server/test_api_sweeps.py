"""POST /dlbench/api/jobs/sweep-preview: what the Run-on-GPU dialog shows as the user types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_escapes import ESCAPES

PREVIEW = "/dlbench/api/jobs/sweep-preview"
TRAIN = "lr = 0.1\nbatch = 16\nopt = 'sgd'\nlayers = [64]"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["DlbenchServer"] = {"run_scheduler": False}
    return jp_server_config


async def test_preview_counts_and_lists_the_typed_trials(api: Any, make_notebook: Any) -> None:
    rel = make_notebook("train.ipynb", TRAIN)
    status, body = await api.post(PREVIEW, {"notebook": rel, "sweep": "lr=1e-3,1e-4 batch=32,64"})
    assert status == 200
    assert body["count"] == 4 and body["params"] == ["lr", "batch"]
    assert body["trials"] == [
        {"lr": 0.001, "batch": 32}, {"lr": 0.001, "batch": 64},
        {"lr": 0.0001, "batch": 32}, {"lr": 0.0001, "batch": 64},
    ]


async def test_fixed_params_go_into_every_trial_but_not_the_columns(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook("train.ipynb", TRAIN)
    status, body = await api.post(PREVIEW, {
        "notebook": rel, "sweep": "batch=8,16", "params": {"opt": "adam", "layers": [8, 8]}})
    assert status == 200 and body["count"] == 2 and body["params"] == ["batch"]
    assert body["trials"][0] == {"batch": 8, "opt": "adam", "layers": [8, 8]}


@pytest.mark.parametrize(
    ("sweep", "params", "field", "fragment"),
    [
        ("lr=", {}, "sweep", "lr="),
        ("lrr=1,2", {}, "sweep", "did you mean 'lr'"),
        ("batch=1.5,2", {}, "sweep", "batch"),
        ("lr=0.1,0.2", {"lr": 0.3}, "params.lr", "both swept and fixed"),
        ("lr=0.1,0.2", {"nope": 1}, "sweep", "nope"),
    ],
)
async def test_a_bad_spec_is_a_400_with_the_reason(
    api: Any, make_notebook: Any, sweep: str, params: dict[str, Any], field: str, fragment: str
) -> None:
    rel = make_notebook("train.ipynb", TRAIN)
    status, body = await api.post(PREVIEW, {"notebook": rel, "sweep": sweep, "params": params})
    assert status == 400 and body["field"] == field, body
    assert fragment in body["message"]


async def test_preview_needs_a_notebook_and_a_spec(api: Any, make_notebook: Any) -> None:
    rel = make_notebook("train.ipynb", TRAIN)
    status, body = await api.post(PREVIEW, {"notebook": rel})
    assert status == 400 and body["field"] == "sweep"
    status, body = await api.post(PREVIEW, {"sweep": "lr=1,2"})
    assert status == 400 and body["field"] == "notebook"


async def test_preview_refuses_paths_outside_the_root(api: Any, escape_links: Path) -> None:
    for path in ESCAPES:  # one server for all forms: each case is one request
        status, body = await api.post(PREVIEW, {"notebook": path, "sweep": "secret=1,2"})
        assert (status, body["code"]) == (400, "path_not_allowed"), (path, body)
