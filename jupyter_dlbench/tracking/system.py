"""Periodic system metrics (CPU, memory, GPU) logged as ``sys/*`` metrics of the run."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable


def _gpu_samples() -> dict[str, float]:
    if not shutil.which("nvidia-smi"):
        return {}
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used,memory.total",
             "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, float] = {}
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        try:
            i, util, used, total = int(parts[0]), float(parts[1]), float(parts[2]), float(parts[3])
        except (ValueError, IndexError):
            continue
        found[f"sys/gpu{i}_util_percent"] = util
        found[f"sys/gpu{i}_memory_mb"] = used
        found[f"sys/gpu{i}_memory_percent"] = 100.0 * used / total if total else 0.0
    return found


class SystemSampler:
    def __init__(self, emit: Callable[[dict[str, float], int], None], interval: float,
                 stop: threading.Event) -> None:
        self._emit = emit
        self._interval = interval
        self._stop = stop

    def sample(self) -> dict[str, float]:
        import psutil

        proc = psutil.Process()
        values = {
            "sys/cpu_percent": psutil.cpu_percent(interval=None),
            "sys/memory_percent": psutil.virtual_memory().percent,
            "sys/process_rss_mb": proc.memory_info().rss / 2**20,
        }
        values.update(_gpu_samples())
        return values

    def loop(self) -> None:
        import psutil

        psutil.cpu_percent(interval=None)  # the first call only sets the baseline
        step = 0
        wait = min(2.0, self._interval)
        while not self._stop.wait(wait):
            try:
                self._emit(self.sample(), step)
            except Exception:  # noqa: BLE001 - a failing probe must not stop training
                pass
            step += 1
            wait = self._interval
