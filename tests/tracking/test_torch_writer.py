"""TensorBoard-style code tracked unchanged through jupyter_dlbench.torch."""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_dlbench as dlb
from jupyter_dlbench.store import Workspace

torch = pytest.importorskip("torch")

from jupyter_dlbench.torch import SummaryWriter, save_checkpoint  # noqa: E402


def test_scalars_land_in_the_current_run_with_their_steps(workspace_dir: Path) -> None:
    run = dlb.init(project="tb")
    writer = SummaryWriter("runs/exp1")
    for step in range(3):
        writer.add_scalar("train/loss", torch.tensor(1.0 / (step + 1)), global_step=step * 10)
    writer.add_scalar("lr", 0.1)
    writer.add_scalar("lr", 0.05)
    writer.add_scalars("acc", {"train": 0.9, "val": 0.8}, global_step=5)
    writer.add_hparams({"lr": 0.1, "layers": 2}, {"hparam/best_acc": 0.8})
    writer.close()
    assert run.status == "running", "a borrowed run is not finished by the writer"
    run.finish()
    history = dlb.metrics(run.id)
    loss = history[history["key"] == "train/loss"]
    assert list(loss["step"]) == [0, 10, 20]
    assert list(loss["value"]) == pytest.approx([1.0, 0.5, 1 / 3])
    assert list(history[history["key"] == "lr"]["step"]) == [0, 1], "no global_step: the tag counts"
    info = dlb.run_info(run.id)
    assert info["metrics"]["acc/val"]["last"] == pytest.approx(0.8)
    assert info["metrics"]["acc/train"]["last_step"] == 5
    assert info["params"]["lr"] == 0.1 and info["params"]["layers"] == 2
    assert info["metrics"]["hparam/best_acc"]["last"] == pytest.approx(0.8)


def test_writer_starts_and_finishes_its_own_run_when_none_is_active(workspace_dir: Path) -> None:
    with SummaryWriter(comment="_baseline", project="tb") as writer:
        writer.add_scalar("loss", 0.5, 0)
    runs = dlb.runs(project="tb")
    assert len(runs) == 1 and runs["status"][0] == "finished" and runs["name"][0] == "baseline"


def test_non_scalar_tensor_is_a_clear_error(workspace_dir: Path) -> None:
    writer = SummaryWriter()
    with pytest.raises(dlb.DlbenchError, match="single number"):
        writer.add_scalar("loss", torch.ones(3))
    writer.close()


def test_checkpoint_is_stored_as_an_artifact_that_loads_back(workspace_dir: Path) -> None:
    model = torch.nn.Linear(3, 2)
    with dlb.init() as run:
        assert save_checkpoint(model.state_dict(), "model.pt") == "model.pt"
    oid = {a["path"]: a["oid"] for a in dlb.run_info(run.id)["artifacts"]}["model.pt"]
    state = torch.load(Workspace.find().objects.path(oid))
    assert torch.equal(state["weight"], model.state_dict()["weight"])
