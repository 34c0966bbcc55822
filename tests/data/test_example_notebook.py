"""examples/data_versioning.ipynb under plain papermill: add, diff, check, clean, label and a
run, each leaving the versions and lineage a user would then query."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench import data
from jupyter_dlbench.store import Workspace

pytest.importorskip("sklearn")
pytest.importorskip("papermill")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data_versioning.ipynb"
# set inside a dlbench job; a test run there must still start runs of its own
JOB_VARS = ("DLBENCH_RUN_ID", "DLBENCH_JOB_ID", "DLBENCH_NOTEBOOK_PATH", "DLBENCH_INPUT_NOTEBOOK",
            "DLBENCH_SNAPSHOT_OID", "DLBENCH_PROJECT")


def test_the_data_versioning_example_runs_and_leaves_its_lineage(workspace_dir: Path,
                                                                 tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in JOB_VARS}
    env["DLBENCH_HOME"] = str(workspace_dir)
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(EXAMPLE), str(tmp_path / "out.ipynb"),
         "-k", "python3", "-p", "n_images", "120"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    assert elapsed < 60, f"the example must run in under a minute, took {elapsed:.1f} s"

    ws = Workspace.find()
    with ws.catalog.session(write=True) as session:
        versions = {v.version: v for v in data.list_versions(session, "digits")}
    assert sorted(versions) == ["v1", "v2", "v3", "v4"]
    assert [versions[v].parent for v in ("v2", "v3", "v4")] == ["v1", "v2", "v3"]
    assert versions["v1"].file_count == 121

    cleaned = versions["v3"].metadata
    assert cleaned["operation"] == "clean" and cleaned["parent"] == "v2"
    assert cleaned["removed_files"] == [
        {"path": "images/broken.png", "reason": "corrupt_image"},
        {"path": "images/copy_of_0000.png", "reason": "duplicate_content"},
        {"path": "images/empty.png", "reason": "zero_byte_file"}]
    assert [(r["reason"], r["count"]) for r in cleaned["removed_rows"]] == [
        ("type_mismatch", 1), ("duplicate_rows", 1)]
    assert "images/broken.png" in data.open_dataset(ws, "digits", "v2").files, \
        "the cleaned-away file stays in the old version"

    labelled = data.open_dataset(ws, "digits", "v4")
    labels = pd.read_csv(labelled.path / "labels.csv")
    assert list(labels.columns) == ["path", "label", "labelled_by", "labelled_at"]
    assert len(labels) == 13 and set(labels["labelled_by"]) == {"example"}
    truth = pd.read_csv(labelled.path / "meta.csv").set_index("path")["target"]
    assert (labels["label"].to_numpy() == truth[labels["path"]].to_numpy()).all()

    runs = dlb.runs(project="digits-data")
    assert len(runs) == 1
    info = dlb.run_info(runs["run_id"][0])
    assert info["status"] == "finished"
    assert [i["ref"] for i in info["inputs"]] == ["digits@v4"]
    assert info["metrics"]["label_agreement"]["last"] == 1.0
    assert info["metrics"]["cv_acc"]["last"] > 0.8
