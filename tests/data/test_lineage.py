"""Runs and datasets: inputs recorded by dlb.dataset, outputs by dlb.log_dataset, used-by queries."""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench import data
from jupyter_dlbench.errors import DatasetNotFound
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import query


def test_dataset_inside_a_run_is_recorded_as_its_input(workspace: Workspace, make_tree, write_tree) -> None:
    src = make_tree("src", {"train.csv": "x,y\n1,2\n"})
    data.add(workspace, "digits", src)
    write_tree(src, {"train.csv": "x,y\n1,2\n3,4\n"})
    data.add(workspace, "digits", src)
    with dlb.init(project="p", name="uses-v1") as run:
        ds = dlb.dataset("digits", "v1")
        assert (ds.name, ds.version) == ("digits", "v1")
        assert (ds.path / "train.csv").read_text() == "x,y\n1,2\n"
        latest = dlb.dataset("digits@latest")
        assert latest.version == "v2" and latest.files == ["train.csv"]
    info = dlb.run_info(run.id)
    assert [i["ref"] for i in info["inputs"]] == ["digits@v1", "digits@v2"]
    assert info["outputs"] == []
    with query.catalog(workspace) as s:
        users = data.used_by(s, "digits", "v1")
        assert [(u["run_id"], u["direction"], u["run_name"]) for u in users] == [(run.id, "input", "uses-v1")]
        assert [u["run_id"] for u in data.used_by(s, "digits", "v2")] == [run.id]


def test_log_dataset_commits_a_version_produced_by_the_run(workspace: Workspace, make_tree) -> None:
    out = make_tree("features", {"f.npy": b"\x00\x01\x02"})
    with dlb.init(project="p", name="featurize") as run:
        v = dlb.log_dataset("features", str(out), message="from raw")
    assert (v.version, v.producer_run_id, v.message) == ("v1", run.id, "from raw")
    info = dlb.run_info(run.id)
    assert [o["ref"] for o in info["outputs"]] == ["features@v1"]
    with query.catalog(workspace) as s:
        [use] = data.used_by(s, "features", "v1")
    assert (use["run_id"], use["direction"]) == (run.id, "output")


def test_dataset_outside_a_run_records_nothing(workspace: Workspace, make_tree) -> None:
    data.add(workspace, "d", make_tree("src", {"a": "1"}))
    assert dlb.dataset("d").version == "v1"
    with query.catalog(workspace) as s:
        assert s.execute("SELECT count(*) FROM run_dataset_rows")[0][0] == 0


def test_unknown_dataset_in_code_is_a_clear_error(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound, match="no dataset named 'ghost'"):
        dlb.dataset("ghost")
