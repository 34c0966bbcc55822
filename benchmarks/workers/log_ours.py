"""Scenario 1, ours: one run, N steps x 3 scalars, then finish() (durable)."""

import sys
import time

from _common import emit

import jupyter_dlbench as dlb

steps = int(sys.argv[1])
run = dlb.init(project="bench")
t0 = time.perf_counter()
for step in range(steps):
    run.log({"loss": 1.0 / (step + 1), "acc": step * 1e-6, "lr": 0.001}, step=step)
run.finish()
emit(seconds=time.perf_counter() - t0, points=steps * 3)
