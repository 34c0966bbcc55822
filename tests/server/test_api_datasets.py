"""GET /dlbench/api/datasets, .../versions and .../versions/{version}, with lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DATASETS = "/dlbench/api/datasets"


@pytest.fixture
def digits(workspace_dir: Path, tmp_path: Path) -> dict[str, str]:
    """digits v1 (2 files), v2 made by a run, and a run that read v2."""
    import jupyter_dlbench as dlb

    folder = tmp_path / "digits"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "a.csv").write_text("1,2\n")
    (folder / "labels.txt").write_text("0\n1\n")
    dlb.log_dataset("digits", str(folder), message="first cut")
    (folder / "train" / "b.csv").write_text("3,4\n")
    with dlb.init(name="prepare") as maker:
        dlb.log_dataset("digits", str(folder), message="more rows")
    with dlb.init(name="train") as reader:
        dlb.dataset("digits", "v2")
    return {"maker": maker.id, "reader": reader.id}


async def test_list_shows_each_dataset_with_its_latest_version(
    api: Any, digits: dict[str, str]
) -> None:
    status, body = await api.get(DATASETS)
    assert status == 200
    [ds] = body["datasets"]
    assert (ds["name"], ds["versions"], ds["latest"], ds["file_count"]) == ("digits", 2, "v2", 3)
    assert ds["total_bytes"] == len("1,2\n") + len("3,4\n") + len("0\n1\n")


async def test_versions_newest_first_with_the_runs_that_made_or_read_them(
    api: Any, digits: dict[str, str]
) -> None:
    status, body = await api.get(f"{DATASETS}/digits/versions")
    assert status == 200 and [v["version"] for v in body["versions"]] == ["v2", "v1"]
    v2, v1 = body["versions"]
    assert (v2["message"], v2["parent"], v2["file_count"]) == ("more rows", "v1", 3)
    assert v2["producer_run_id"] == digits["maker"]
    uses = {(u["run_id"], u["direction"]) for u in v2["used_by"]}
    assert uses == {(digits["maker"], "output"), (digits["reader"], "input")}
    assert v1["used_by"] == [] and v1["producer_run_id"] is None


async def test_one_version_lists_its_files_a_page_at_a_time(
    api: Any, digits: dict[str, str]
) -> None:
    status, body = await api.get(f"{DATASETS}/digits/versions/v2")
    assert status == 200 and body["files_total"] == 3
    assert [f["path"] for f in body["files"]] == ["labels.txt", "train/a.csv", "train/b.csv"]
    assert body["files"][1]["size"] == 4 and len(body["files"][1]["oid"]) == 64
    _, page = await api.get(f"{DATASETS}/digits/versions/latest",
                            params={"offset": "1", "limit": "1"})
    assert page["version"] == "v2" and [f["path"] for f in page["files"]] == ["train/a.csv"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"{DATASETS}/nope/versions", 404, "dataset_not_found"),
        (f"{DATASETS}/digits/versions/v9", 404, "dataset_not_found"),
        (f"{DATASETS}/digits/versions/2", 400, "invalid_input"),
        (f"{DATASETS}/..%2fx/versions", 400, "invalid_input"),
        (f"{DATASETS}/.hidden/versions", 400, "invalid_input"),
    ],
)
async def test_unknown_or_malformed_names_and_versions(
    api: Any, digits: dict[str, str], path: str, status: int, code: str
) -> None:
    response = await api.fetch("GET", path, raw=True)
    assert response.code == status and f'"{code}"'.encode() in response.body


async def test_run_detail_shows_the_dataset_versions_it_read_and_made(
    api: Any, digits: dict[str, str]
) -> None:
    _, reader = await api.get(f"/dlbench/api/runs/{digits['reader']}")
    assert [(d["ref"], d["ts"][-6:]) for d in reader["inputs"]] == [("digits@v2", "+00:00")]
    _, maker = await api.get(f"/dlbench/api/runs/{digits['maker']}")
    assert [d["ref"] for d in maker["outputs"]] == ["digits@v2"] and maker["inputs"] == []
