"""GPUs a local scheduler may hand out, and the slot allocator that packs jobs onto them.

Capacity is counted in hundredths of a GPU (integers), so ``0.1 + 0.2`` never drifts and
``--gpus 0.25`` packs exactly four jobs per GPU.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import threading

from ..errors import InvalidInput

UNITS = 100  # hundredths of a GPU
MAX_GPUS = 64


def detect_gpus() -> list[str]:
    """``DLBENCH_GPUS`` (a count of logical GPUs, or a comma list of ids), else nvidia-smi."""
    declared = os.environ.get("DLBENCH_GPUS", "").strip()
    if declared:
        if declared.isdigit():
            n = int(declared)
            if n > MAX_GPUS:
                raise InvalidInput(f"DLBENCH_GPUS={declared} is more than {MAX_GPUS} GPUs")
            return [str(i) for i in range(n)]
        ids = [p.strip() for p in declared.split(",")]
        if all(p.isdigit() for p in ids) and len(set(ids)) == len(ids):
            return ids
        raise InvalidInput(
            f"DLBENCH_GPUS={declared!r} is neither a number of GPUs (like 2) nor a list of "
            "distinct GPU ids (like 0,2)")
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    found = [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip():
        allowed = {v.strip() for v in visible.split(",")}
        found = [g for g in found if g in allowed]
    return found


def check_gpu_request(gpus: object) -> float:
    """0 (CPU only), a fraction of one GPU in hundredths, or a whole number of GPUs."""
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float)):
        try:
            gpus = float(gpus)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidInput(f"gpus must be a number, got {gpus!r}") from None
    value = float(gpus)
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise InvalidInput(f"gpus must be 0, a fraction like 0.25, or a whole number; got {gpus}")
    if value > MAX_GPUS:
        raise InvalidInput(f"gpus={value:g} is more than {MAX_GPUS}")
    units = round(value * UNITS)
    if abs(units - value * UNITS) > 1e-6:
        raise InvalidInput(f"gpus={value!r} is finer than 1/{UNITS} of a GPU")
    if value > 1 and units % UNITS:
        raise InvalidInput(
            f"gpus={value:g}: fractions must be below 1 (a share of one GPU); above 1 ask for whole GPUs")
    return units / UNITS


class GpuAllocator:
    """Which job holds how much of which GPU; never oversubscribes."""

    def __init__(self, gpu_ids: list[str]) -> None:
        self.gpu_ids = list(gpu_ids)
        self._free = {g: UNITS for g in self.gpu_ids}
        self._held: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def allocate(self, job_id: str, gpus: float) -> list[str] | None:
        units = round(check_gpu_request(gpus) * UNITS)
        if units == 0:
            return []
        if units > UNITS * len(self.gpu_ids):
            have = len(self.gpu_ids)
            raise InvalidInput(
                f"the job asks for {gpus:g} GPU(s) but this machine has {have}"
                + ("" if have else " (set DLBENCH_GPUS=N to declare logical GPUs)"))
        with self._lock:
            if job_id in self._held:
                return [g for g, _ in self._held[job_id]]
            if units < UNITS:
                fits = [g for g in self.gpu_ids if self._free[g] >= units]
                if not fits:
                    return None
                best = min(fits, key=lambda g: (self._free[g], self.gpu_ids.index(g)))
                self._free[best] -= units
                self._held[job_id] = [(best, units)]
                return [best]
            whole = units // UNITS
            empty = [g for g in self.gpu_ids if self._free[g] == UNITS]
            if len(empty) < whole:
                return None
            chosen = empty[:whole]
            for g in chosen:
                self._free[g] = 0
            self._held[job_id] = [(g, UNITS) for g in chosen]
            return chosen

    def release(self, job_id: str) -> None:
        with self._lock:
            for g, units in self._held.pop(job_id, []):
                self._free[g] += units

    def restore(self, job_id: str, gpu_ids: list[str], gpus: float) -> None:
        """Re-register a job that kept running across a scheduler restart."""
        units = round(check_gpu_request(gpus) * UNITS)
        if not gpu_ids or units == 0:
            return
        share = units if units < UNITS else UNITS
        with self._lock:
            if job_id in self._held:
                return
            for g in gpu_ids:
                if g not in self._free or self._free[g] < share:
                    raise InvalidInput(f"cannot restore job {job_id} on GPU {g}: it would oversubscribe it")
            for g in gpu_ids:
                self._free[g] -= share
            self._held[job_id] = [(g, share) for g in gpu_ids]

    def free_capacity(self) -> dict[str, float]:
        with self._lock:
            return {g: units / UNITS for g, units in self._free.items()}

    def holders(self) -> dict[str, list[tuple[str, float]]]:
        with self._lock:
            out: dict[str, list[tuple[str, float]]] = {g: [] for g in self.gpu_ids}
            for job_id, held in self._held.items():
                for g, units in held:
                    out[g].append((job_id, units / UNITS))
            return out
