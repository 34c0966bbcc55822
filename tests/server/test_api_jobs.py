"""POST/GET/DELETE /dlbench/api/jobs with the scheduler off: submission, validation, the queue.

Jobs stay queued here (no scheduler), so these tests are fast; test_api_jobs_run.py runs real
notebooks through the server's scheduler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_escapes import ESCAPES

from jupyter_dlbench.execution.jobs import JobStore
from jupyter_dlbench.store import Workspace

JOBS = "/dlbench/api/jobs"
TRAIN = "lr = 0.1  # learning rate\nepochs = 2\nname = 'base'\nlayers = [64, 32]"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["DlbenchServer"] = {"run_scheduler": False}
    return jp_server_config


async def test_submit_checks_and_types_params_and_queues_one_job(
    api: Any, make_notebook: Any, jp_root_dir: Path
) -> None:
    rel = make_notebook("nbs/train.ipynb", TRAIN, "print(lr)")
    status, body = await api.post(JOBS, {
        "notebook": rel, "params": {"lr": "1e-3", "epochs": 3, "layers": "[8]"},
        "gpus": 0, "retries": 1, "project": "digits", "name": "try-1",
    })
    assert status == 201 and body["sweep_id"] is None
    [job] = body["jobs"]
    assert job["status"] == "queued" and job["run_id"] is None
    assert job["params"] == {"lr": 0.001, "epochs": 3, "name": "base", "layers": [8]}
    assert job["notebook_path"] == rel
    assert job["notebook"] == str((jp_root_dir / rel).resolve())
    assert (job["executor"], job["gpus"], job["retries"]) == ("local", 0, 1)
    assert (job["project"], job["name"], job["cancel_requested"]) == ("digits", "try-1", False)
    assert job["submitted_at"].endswith("+00:00")
    # the notebook was snapshotted: editing it now does not change the job
    assert Workspace.find().objects.exists(job["snapshot_oid"])


async def test_a_notebook_without_parameters_cell_runs_only_without_params(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook("plain.ipynb", None, "print(1)")
    status, body = await api.post(JOBS, {"notebook": rel})
    assert status == 201 and body["jobs"][0]["params"] == {}
    status, body = await api.post(JOBS, {"notebook": rel, "params": {"x": 1}})
    assert status == 400 and "no parameters cell" in body["message"]


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"lrr": 0.1}, "params.lrr", "did you mean 'lr'"),
        ({"epochs": "3.5"}, "params.epochs", "expected an int like the default 2"),
        ({"lr": "fast"}, "params.lr", "expected a float"),
        ({"layers": "{oops"}, "params.layers", "expected a list"),
    ],
)
async def test_bad_params_are_a_400_naming_the_parameter(
    api: Any, make_notebook: Any, params: dict[str, Any], field: str, fragment: str
) -> None:
    rel = make_notebook("train.ipynb", TRAIN)
    status, body = await api.post(JOBS, {"notebook": rel, "params": params})
    assert status == 400 and body["field"] == field, body
    assert fragment in body["message"]
    assert JobStore(Workspace.find()).all() == []  # nothing was queued


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "notebook", "'notebook' is required"),
        ({"notebook": 5}, "notebook", "must be a string, got an integer"),
        ({"notebook": "t.ipynb", "gpu": 1}, "gpu", "unknown field 'gpu'"),
        ({"notebook": "t.ipynb", "params": [1]}, "params", "must be an object, got an array"),
        ({"notebook": "t.ipynb", "gpus": "1"}, "gpus", "must be an integer or a number"),
        ({"notebook": "t.ipynb", "gpus": True}, "gpus", "got true or false"),
        ({"notebook": "t.ipynb", "gpus": 1.5}, "gpus", "1.5"),
        ({"notebook": "t.ipynb", "gpus": -1}, "gpus", "-1"),
        ({"notebook": "t.ipynb", "retries": 1.5}, "retries", "must be an integer"),
        ({"notebook": "t.ipynb", "retries": 101}, "retries", "from 0 to 100"),
        ({"notebook": "t.ipynb", "cpus": 0}, "cpus", "positive"),
        ({"notebook": "t.ipynb", "executor": "k8s"}, "executor", "unknown executor 'k8s'"),
        ({"notebook": "t.ipynb", "timeout_s": 0}, "timeout_s", "positive"),
    ],
)
async def test_malformed_bodies_are_a_400_naming_the_field(
    api: Any, make_notebook: Any, body: dict[str, Any], field: str, fragment: str
) -> None:
    make_notebook("t.ipynb", TRAIN)
    status, answer = await api.post(JOBS, body)
    assert status == 400 and answer["code"] == "invalid_input"
    assert answer["field"] == field and fragment in answer["message"], answer


@pytest.mark.parametrize(
    ("payload", "ctype", "fragment"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b'["t.ipynb"]', "application/json", "must be a JSON object, got list"),
        (b'{"notebook": "t.ipynb"}', "text/plain", "Content-Type: application/json"),
        (b"\xff\xfe", "application/json", "not valid JSON"),
        (b"", "application/json", "not valid JSON"),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_a_400(
    api: Any, make_notebook: Any, payload: bytes, ctype: str, fragment: str
) -> None:
    make_notebook("t.ipynb", TRAIN)
    status, body = await api.call("POST", JOBS, body=payload, headers={"Content-Type": ctype})
    assert status == 400 and fragment in body["message"]


async def test_notebook_paths_outside_the_root_are_refused(
    api: Any, escape_links: Path
) -> None:
    for path in ESCAPES:  # one server for all forms: each case is one request
        status, body = await api.post(JOBS, {"notebook": path})
        assert (status, body["code"], body.get("field")) == (
            400, "path_not_allowed", "notebook"), (path, body)
    assert JobStore(Workspace.find()).all() == []


async def test_absolute_and_missing_notebooks_are_refused(
    api: Any, escape_links: Path, make_notebook: Any
) -> None:
    status, body = await api.post(JOBS, {"notebook": str(escape_links)})
    assert status == 400 and "not an absolute one" in body["message"]
    status, body = await api.post(JOBS, {"notebook": "nope/missing.ipynb"})
    assert status == 404 and body["code"] == "notebook_not_found"
    status, body = await api.post(JOBS, {"notebook": "nbs"})
    assert status == 400 and "folder" in body["message"]


async def test_list_is_newest_first_with_status_filter_and_pages(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook("t.ipynb", TRAIN)
    ids = []
    for lr in (0.1, 0.2, 0.3):
        _, body = await api.post(JOBS, {"notebook": rel, "params": {"lr": lr}})
        ids.append(body["jobs"][0]["job_id"])
    await api.delete(f"{JOBS}/{ids[0]}")
    JobStore(Workspace.find()).append(ids[0], {"t": "cancelled", "error": "cancelled"})
    status, body = await api.get(JOBS)
    assert status == 200 and [j["job_id"] for j in body["jobs"]] == ids[::-1]
    assert body["total"] == 3
    _, body = await api.get(JOBS, params={"status": "queued"})
    assert [j["job_id"] for j in body["jobs"]] == ids[:0:-1]
    _, body = await api.get(JOBS, params={"status": "cancelled,finished"})
    assert [j["job_id"] for j in body["jobs"]] == [ids[0]]
    _, body = await api.get(JOBS, params={"limit": "1", "offset": "1"})
    assert [j["job_id"] for j in body["jobs"]] == [ids[1]] and body["total"] == 3
    status, body = await api.get(JOBS, params={"status": "done"})
    assert status == 400 and body["field"] == "status" and "queued" in body["message"]


async def test_get_one_job_by_id_or_prefix(api: Any, make_notebook: Any) -> None:
    rel = make_notebook("t.ipynb", TRAIN)
    _, body = await api.post(JOBS, {"notebook": rel})
    job_id = body["jobs"][0]["job_id"]
    status, job = await api.get(f"{JOBS}/{job_id}")
    assert status == 200 and job["job_id"] == job_id and job["status"] == "queued"
    _, job = await api.get(f"{JOBS}/{job_id[:-2]}")
    assert job["job_id"] == job_id
    status, body = await api.get(f"{JOBS}/job-nope")
    assert status == 404 and body["code"] == "job_not_found"
    status, body = await api.get(f"{JOBS}/.hidden")
    assert status == 400 and body["code"] == "invalid_input"


async def test_cancel_a_queued_job_then_cancel_again_is_a_409(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook("t.ipynb", TRAIN)
    _, body = await api.post(JOBS, {"notebook": rel})
    job_id = body["jobs"][0]["job_id"]
    status, job = await api.delete(f"{JOBS}/{job_id}")
    assert status == 202 and job["cancel_requested"] is True
    JobStore(Workspace.find()).append(job_id, {"t": "cancelled", "error": "cancelled while queued"})
    status, body = await api.delete(f"{JOBS}/{job_id}")
    assert status == 409 and body["code"] == "job_state" and "already cancelled" in body["message"]
    status, body = await api.delete(f"{JOBS}/job-nope")
    assert status == 404


async def test_logs_of_a_job_that_has_none_yet_are_empty(api: Any, make_notebook: Any) -> None:
    rel = make_notebook("t.ipynb", TRAIN)
    _, body = await api.post(JOBS, {"notebook": rel})
    job_id = body["jobs"][0]["job_id"]
    status, log = await api.get(f"{JOBS}/{job_id}/logs")
    assert status == 200
    assert log == {"job_id": job_id, "offset": 0, "next_offset": 0, "size": 0, "text": "",
                   "complete": False}
    status, body = await api.get(f"{JOBS}/{job_id}/logs", params={"offset": "5"})
    assert status == 400 and body["field"] == "offset"


async def test_logs_tail_by_offset_without_splitting_characters(
    api: Any, make_notebook: Any
) -> None:
    rel = make_notebook("t.ipynb", TRAIN)
    _, body = await api.post(JOBS, {"notebook": rel})
    job_id = body["jobs"][0]["job_id"]
    log = JobStore(Workspace.find()).dir(job_id) / "job.log"
    log.write_bytes("épocha 1\n".encode())
    _, piece = await api.get(f"{JOBS}/{job_id}/logs", params={"max_bytes": "1"})
    assert piece["text"] == "" and piece["next_offset"] == 0  # "é" is two bytes
    _, piece = await api.get(f"{JOBS}/{job_id}/logs", params={"max_bytes": "3"})
    assert piece["text"] == "ép" and piece["next_offset"] == 3
    with open(log, "ab") as f:
        f.write(b"epoch 2\n")
    _, piece = await api.get(f"{JOBS}/{job_id}/logs", params={"offset": "3"})
    assert piece["text"] == "ocha 1\nepoch 2\n" and piece["next_offset"] == piece["size"]
    response = await api.fetch("GET", f"{JOBS}/{job_id}/logs",
                               params={"offset": "3", "format": "text"})
    assert response.code == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert response.body == b"ocha 1\nepoch 2\n"
    assert response.headers["X-Next-Offset"] == str(piece["size"])


async def test_asking_for_more_gpus_than_the_server_has_is_a_400(
    api: Any, make_notebook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel = make_notebook("t.ipynb", TRAIN)
    monkeypatch.setenv("DLBENCH_GPUS", "1")
    status, body = await api.post(JOBS, {"notebook": rel, "gpus": 2})
    assert status == 400 and body["field"] == "gpus" and "has 1 GPU" in body["message"]
    for gpus in (1, 0.25):
        status, body = await api.post(JOBS, {"notebook": rel, "gpus": gpus})
        assert status == 201 and body["jobs"][0]["gpus"] == gpus
    monkeypatch.setenv("DLBENCH_GPUS", "0")
    status, body = await api.post(JOBS, {"notebook": rel, "gpus": 0.5})
    assert status == 400 and "has no GPUs" in body["message"]
    status, body = await api.post(JOBS, {"notebook": rel, "gpus": 0.5, "executor": "ray"})
    assert status == 201  # Ray places it on a GPU node of its cluster
