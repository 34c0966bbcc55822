"""GPUs a local scheduler may hand out, and the slot allocator that packs jobs onto them.

Capacity is counted in hundredths of a GPU (integers), so ``0.1 + 0.2`` never drifts and
``--gpus 0.25`` packs exactly four jobs per GPU. Detection asks ``nvidia-smi`` rather than
importing torch: the scheduler must start in milliseconds and work without CUDA libraries.
"""

from __future__ import annotations

import math
import numbers
import os
import shutil
import subprocess
import threading

from ..errors import InvalidInput

UNITS = 100  # hundredths of a GPU
MAX_GPUS = 64
ALLOWED = (
    f"0 (CPU only), a fraction of one GPU in steps of 1/{UNITS} like 0.25, "
    f"or a whole number of GPUs up to {MAX_GPUS}"
)


def detect_gpus() -> list[str]:
    """The GPU ids this machine lets us hand out, as strings for ``CUDA_VISIBLE_DEVICES``.

    ``DLBENCH_GPUS`` wins: a count declares logical GPUs ``"0".."N-1"`` (machines and tests
    without one), a comma list names ids (``0,2``). Otherwise ``nvidia-smi`` is asked, limited
    to an existing ``CUDA_VISIBLE_DEVICES``; no nvidia-smi, or any failure of it, means no GPUs.
    """
    declared = os.environ.get("DLBENCH_GPUS", "").strip()
    if declared:
        return _declared_gpus(declared)
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []  # a hung or broken driver must not stop CPU jobs from running
    if out.returncode != 0:
        return []
    found: list[tuple[str, str]] = []
    for line in out.stdout.splitlines():
        index, _, uuid = (part.strip() for part in line.partition(","))
        if index.isdigit():
            found.append((index, uuid))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [index for index, _ in found]
    # set by whoever started us: only those devices are ours. CUDA reads "" and "-1" as none,
    # and accepts indexes or (prefixes of) UUIDs.
    # https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars
    wanted = [v.strip() for v in visible.split(",") if v.strip()]
    ours: list[str] = []
    for v in wanted:
        if not v.isdigit() and not v.startswith(("GPU-", "MIG-")):
            break  # CUDA stops at the first invalid entry
        match = [i for i, u in found if v == i or (u and u.startswith(v) and not v.isdigit())]
        if match and match[0] not in ours:
            ours.append(match[0])
    return ours


def _declared_gpus(declared: str) -> list[str]:
    if declared.isdigit():
        n = int(declared)
        if n > MAX_GPUS:
            raise InvalidInput(f"DLBENCH_GPUS={declared} is more than {MAX_GPUS} GPUs")
        return [str(i) for i in range(n)]
    ids = [p.strip() for p in declared.split(",")]
    if all(p.isdigit() for p in ids) and len(set(ids)) == len(ids) and len(ids) <= MAX_GPUS:
        return ids
    raise InvalidInput(
        f"DLBENCH_GPUS={declared!r} is neither a number of GPUs (like 2) nor a list of "
        "distinct GPU ids (like 0,2)"
    )


def _units(gpus: object) -> int:
    """The request in hundredths of a GPU, or an InvalidInput saying what is allowed."""
    if isinstance(gpus, bool) or not isinstance(gpus, numbers.Real):
        raise InvalidInput(f"gpus must be a number: {ALLOWED}; got {gpus!r}")
    value = float(gpus)
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise InvalidInput(f"gpus={value:g} is not allowed: use {ALLOWED}")
    if value > MAX_GPUS:
        raise InvalidInput(f"gpus={value:g} is more than {MAX_GPUS}: use {ALLOWED}")
    units = round(value * UNITS)
    # the tolerance absorbs float noise (0.1 + 0.2), not real precision (0.333)
    if abs(units - value * UNITS) > 1e-6:
        raise InvalidInput(f"gpus={value:g} is finer than 1/{UNITS} of a GPU: use {ALLOWED}")
    if units > UNITS and units % UNITS:
        raise InvalidInput(
            f"gpus={value:g} is not allowed: a share must be below 1 GPU, "
            f"above 1 ask for whole GPUs; use {ALLOWED}"
        )
    return units


def check_gpu_request(gpus: float) -> float:
    """A valid GPU request, normalised (``0.1 + 0.2`` → ``0.3``); InvalidInput otherwise.

    Shares above one GPU (1.5) are refused: one process cannot use half of a second GPU
    without owning it, and packing them would leave unusable remainders.
    """
    return _units(gpus) / UNITS


def _id_key(gpu_id: str) -> tuple[int, int, str]:
    """Lowest id first, numerically: "2" before "10"."""
    return (0, int(gpu_id), "") if gpu_id.isdigit() else (1, 0, gpu_id)


class GpuAllocator:
    """Which job holds how much of which GPU; never oversubscribes. Pure logic, thread-safe.

    Fractional requests go best-fit onto one GPU (the fullest that still fits), which keeps
    whole GPUs free for whole requests; whole requests take completely free GPUs only.
    """

    def __init__(self, gpu_ids: list[str]) -> None:
        if len(set(gpu_ids)) != len(gpu_ids):
            raise InvalidInput(f"GPU ids must be distinct, got {', '.join(gpu_ids)}")
        self.gpu_ids = list(gpu_ids)
        self._by_id = sorted(self.gpu_ids, key=_id_key)
        self._free = {g: UNITS for g in self.gpu_ids}
        self._held: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def allocate(self, job_id: str, gpus: float) -> list[str] | None:
        """GPU ids for the job (``[]`` for CPU-only), or None when it does not fit now.

        Asking again for a job that already holds GPUs returns what it holds.

        Raises
        ------
        InvalidInput
            For an invalid request, or one larger than the whole machine (it would wait forever).
        """
        units = _units(gpus)
        if units == 0:
            return []
        if units > UNITS * len(self.gpu_ids):
            have = len(self.gpu_ids)
            raise InvalidInput(
                f"the job asks for {units / UNITS:g} GPU(s) but this machine has {have}"
                + ("" if have else " (set DLBENCH_GPUS=N to declare logical GPUs)")
            )
        with self._lock:
            if job_id in self._held:
                return [g for g, _ in self._held[job_id]]
            if units < UNITS:
                fits = [g for g in self._by_id if self._free[g] >= units]
                if not fits:
                    return None
                best = min(fits, key=lambda g: self._free[g])  # stable: ties keep lowest id
                self._free[best] -= units
                self._held[job_id] = [(best, units)]
                return [best]
            empty = [g for g in self._by_id if self._free[g] == UNITS]
            if len(empty) < units // UNITS:
                return None
            chosen = empty[: units // UNITS]
            for g in chosen:
                self._free[g] = 0
            self._held[job_id] = [(g, UNITS) for g in chosen]
            return chosen

    def release(self, job_id: str) -> None:
        """Give back what the job holds; a job holding nothing is fine (idempotent)."""
        with self._lock:
            for g, units in self._held.pop(job_id, []):
                self._free[g] += units

    def restore(self, job_id: str, gpu_ids: list[str], gpus: float) -> None:
        """Re-register a job that kept running across a scheduler restart.

        Raises
        ------
        InvalidInput
            When the ids are unknown, do not match the request, or would oversubscribe a GPU.
        """
        units = _units(gpus)
        if units == 0 or not gpu_ids:
            return
        share = min(units, UNITS)
        wanted = 1 if units < UNITS else units // UNITS
        if len(set(gpu_ids)) != len(gpu_ids) or len(gpu_ids) != wanted:
            raise InvalidInput(
                f"cannot restore job {job_id}: gpus={units / UNITS:g} does not "
                f"match the GPU ids {', '.join(gpu_ids)}"
            )
        with self._lock:
            if job_id in self._held:
                return
            for g in gpu_ids:
                if g not in self._free:
                    raise InvalidInput(
                        f"cannot restore job {job_id} on GPU {g}: this machine "
                        f"has GPUs {', '.join(self.gpu_ids) or 'none'}"
                    )
                if self._free[g] < share:
                    raise InvalidInput(
                        f"cannot restore job {job_id} on GPU {g}: it would oversubscribe it"
                    )
            for g in gpu_ids:
                self._free[g] -= share
            self._held[job_id] = [(g, share) for g in gpu_ids]

    def free_capacity(self) -> dict[str, float]:
        """GPU id → the share still free (1.0 = idle)."""
        with self._lock:
            return {g: self._free[g] / UNITS for g in self.gpu_ids}

    def holders(self) -> dict[str, list[tuple[str, float]]]:
        """GPU id → [(job id, share)], every GPU listed, idle ones with []."""
        with self._lock:
            out: dict[str, list[tuple[str, float]]] = {g: [] for g in self.gpu_ids}
            for job_id, held in self._held.items():
                for g, units in held:
                    out[g].append((job_id, units / UNITS))
            return out
