"""Scenario 1, aim: Run.track per scalar, then close()."""

import os
import sys
import time

from _common import emit
from aim import Run  # noqa: E402

steps = int(sys.argv[1])
run = Run(repo=os.getcwd(), experiment="bench", system_tracking_interval=None,
          capture_terminal_logs=False)
t0 = time.perf_counter()
for step in range(steps):
    run.track(1.0 / (step + 1), name="loss", step=step)
    run.track(step * 1e-6, name="acc", step=step)
    run.track(0.001, name="lr", step=step)
run.close()
emit(seconds=time.perf_counter() - t0, points=steps * 3)
