"""TensorBoard-style training code tracked unchanged through ``jupyter_dlbench.torch``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking import current

torch = pytest.importorskip("torch")

from jupyter_dlbench.torch import SummaryWriter, save_checkpoint  # noqa: E402


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    frame = dlb.metrics(run_id, key)
    return list(zip(frame["step"].tolist(), frame["value"].tolist(), strict=True))


def test_scalars_land_in_the_current_run_with_their_steps(workspace_dir: Path) -> None:
    run = dlb.init(project="tb")
    writer = SummaryWriter("runs/exp1")
    for step in range(3):
        writer.add_scalar("train/loss", torch.tensor(1.0 / (step + 1)), global_step=step * 10)
    writer.add_scalar("np", np.float32(0.25), global_step=torch.tensor(7))
    writer.add_scalar("lr", 0.1)
    writer.add_scalar("lr", 0.05)
    writer.add_scalar("lr", 0.01, global_step=10)
    writer.add_scalar("lr", 0.005)
    writer.add_scalars("acc", {"train": torch.tensor(0.9), "val": 0.8}, global_step=5)
    writer.add_scalars("acc", {"train": 0.95, "val": 0.85})
    writer.add_hparams({"lr": 0.1, "layers": 2, "opt": "adam"}, {"hparam/best_acc": 0.85})
    writer.close()
    assert run.status == "running", "a borrowed run is left to its owner"
    run.finish()

    assert history(run.id, "train/loss") == [(0, 1.0), (10, 0.5), (20, pytest.approx(1 / 3))]
    assert history(run.id, "np") == [(7, 0.25)]
    assert [s for s, _ in history(run.id, "lr")] == [0, 1, 10, 11], "no global_step: the tag counts on"
    assert history(run.id, "acc/train") == [(5, pytest.approx(0.9)), (6, 0.95)]
    assert history(run.id, "acc/val") == [(5, 0.8), (6, 0.85)]
    assert history(run.id, "hparam/best_acc") == [(0, 0.85)]
    info = dlb.run_info(run.id)
    assert info["params"] == {"lr": 0.1, "layers": 2, "opt": "adam"}
    row = dlb.runs(project="tb").iloc[0]
    assert row["params.lr"] == 0.1 and row["metrics.acc/val"] == 0.85 and row["metrics.lr.min"] == 0.005


def test_an_explicit_run_wins_over_the_current_one(workspace_dir: Path) -> None:
    target = dlb.init(project="tb", name="target")
    with dlb.init(project="tb", name="active") as active:  # the current run from here on
        writer = SummaryWriter(run=target)
        writer.add_scalar("x", 1.0, 0)
        writer.close()
    assert target.status == "running", "a borrowed run is left to its owner"
    target.finish()
    assert history(target.id, "x") == [(0, 1.0)]
    assert dlb.run_info(active.id)["metrics"] == {}


def test_writer_starts_and_finishes_its_own_run_when_none_is_active(workspace_dir: Path) -> None:
    assert current.peek_current() is None
    with SummaryWriter(comment="_baseline", project="tb") as writer:
        assert current.peek_current() is writer.run
        writer.add_scalar("loss", 0.5)
        writer.add_scalar("loss", 0.25)
    assert current.peek_current() is None, "the owned run is finished, so no longer current"
    writer2 = SummaryWriter("runs/exp2", project="tb")
    writer2.add_scalar("loss", torch.tensor(0.1), 3)
    writer2.close()
    runs = dlb.runs(project="tb").set_index("name")
    assert sorted(runs.index) == ["baseline", "exp2"]
    assert set(runs["status"]) == {"finished"}
    assert history(runs.loc["baseline", "run_id"], "loss") == [(0, 0.5), (1, 0.25)]
    assert history(runs.loc["exp2", "run_id"], "loss") == [(3, pytest.approx(0.1))]


def test_an_error_inside_an_owned_writer_fails_its_run(workspace_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="diverged"):
        with SummaryWriter(project="tb") as writer:
            writer.add_scalar("loss", 1.0)
            raise RuntimeError("diverged")
    info = dlb.run_info(writer.run.id)
    assert info["status"] == "failed"
    assert "RuntimeError: diverged" in info["error"]
    assert info["metrics"]["loss"]["last"] == 1.0


def test_non_scalar_tensor_is_a_clear_error(workspace_dir: Path) -> None:
    writer = SummaryWriter()
    with pytest.raises(dlb.DlbenchError, match="'loss' must be a single number"):
        writer.add_scalar("loss", torch.ones(3))
    with pytest.raises(dlb.DlbenchError, match="'acc/val' must be a number"):
        writer.add_scalars("acc", {"val": "high"})
    writer.close()


def test_checkpoint_is_stored_as_an_artifact_that_loads_back(workspace_dir: Path) -> None:
    model = torch.nn.Linear(3, 2)
    with dlb.init() as run:
        assert save_checkpoint(model.state_dict(), "model.pt") == "model.pt"
        assert save_checkpoint({"epoch": 3, "model": model.state_dict()}) == "checkpoint.pt"
    artifacts = {a["path"]: a for a in dlb.run_info(run.id)["artifacts"]}
    assert set(artifacts) == {"model.pt", "checkpoint.pt"}
    objects = Workspace.find().objects
    path = objects.path(artifacts["model.pt"]["oid"])
    assert path.stat().st_size == artifacts["model.pt"]["size"]
    state = torch.load(path, weights_only=True)
    assert torch.equal(state["weight"], model.state_dict()["weight"])
    assert torch.load(objects.path(artifacts["checkpoint.pt"]["oid"]), weights_only=True)["epoch"] == 3


def test_checkpoint_without_a_run_is_a_clear_error(workspace_dir: Path) -> None:
    with pytest.raises(dlb.DlbenchError, match="no active run"):
        save_checkpoint({"x": 1})


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, jupyter_dlbench.torch; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
