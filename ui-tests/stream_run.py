"""A run that keeps logging metrics until it is stopped: the live-sidebar UI test starts eight.

``python stream_run.py NAME LR [SECONDS] [INTERVAL]`` records a run ``NAME`` (params ``lr`` and
``stream=True``) in the workspace ``DLBENCH_HOME`` names, logging ``loss`` and ``acc`` every
INTERVAL seconds (0.3) for at most SECONDS (150), so a test that dies never leaves it running
for long. SIGTERM (how the test stops it) ends the loop and finishes the run, so the workspace
is left with a finished run, not one marked lost later.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from types import FrameType

import jupyter_dlbench as dlb

_stop = False


def _on_term(signum: int, frame: FrameType | None) -> None:
    global _stop
    _stop = True


def main() -> None:
    name, lr = sys.argv[1], float(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 150.0
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
    signal.signal(signal.SIGTERM, _on_term)
    run = dlb.init(project="ui-stream", name=name, params={"lr": lr, "stream": True})
    print(f"streaming {run.id}", flush=True)
    deadline = time.monotonic() + seconds
    step = 0
    while not _stop and time.monotonic() < deadline:
        loss = 2.0 * math.exp(-lr * step) + 0.05 * math.sin(step)
        run.log({"loss": loss, "acc": 1.0 - loss / 2.2}, step=step)
        step += 1
        time.sleep(interval)
    run.finish()


if __name__ == "__main__":
    main()
