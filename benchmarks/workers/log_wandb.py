"""Scenario 1, wandb offline: run.log per step, then finish() (which syncs the offline file)."""

import os
import sys
import time

from _common import emit

os.environ["WANDB_MODE"] = "offline"
os.environ.setdefault("WANDB_SILENT", "true")
os.environ["WANDB_DIR"] = os.getcwd()
import wandb  # noqa: E402

steps = int(sys.argv[1])
run = wandb.init(project="bench", settings=wandb.Settings(x_disable_stats=True, console="off"))
t0 = time.perf_counter()
for step in range(steps):
    run.log({"loss": 1.0 / (step + 1), "acc": step * 1e-6, "lr": 0.001}, step=step)
run.finish()
emit(seconds=time.perf_counter() - t0, points=steps * 3)
