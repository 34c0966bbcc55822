"""GPU slots: jobs get distinct GPUs, fractional jobs pack, nothing is ever oversubscribed."""

from __future__ import annotations

import threading

import pytest

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.execution import resources
from jupyter_dlbench.execution.resources import GpuAllocator, check_gpu_request, detect_gpus


def test_six_whole_gpu_jobs_on_two_gpus_run_two_at_a_time_on_distinct_gpus() -> None:
    alloc = GpuAllocator(["0", "1"])
    got = [alloc.allocate(f"job{i}", 1) for i in range(6)]
    assert got[:2] == [["0"], ["1"]] and got[2:] == [None] * 4
    alloc.release("job0")
    assert alloc.allocate("job2", 1) == ["0"]
    assert alloc.allocate("job3", 1) is None


def test_eight_quarter_jobs_fit_on_two_gpus_and_the_ninth_waits() -> None:
    alloc = GpuAllocator(["0", "1"])
    got = [alloc.allocate(f"job{i}", 0.25) for i in range(8)]
    assert got == [["0"]] * 4 + [["1"]] * 4  # best fit fills one GPU before the next
    assert alloc.allocate("job8", 0.25) is None
    assert alloc.free_capacity() == {"0": 0.0, "1": 0.0}


def test_four_quarter_jobs_fill_one_gpu() -> None:
    alloc = GpuAllocator(["0"])
    assert all(alloc.allocate(f"job{i}", 0.25) == ["0"] for i in range(4))
    assert alloc.allocate("job4", 0.25) is None


def test_half_and_two_quarters_fill_one_gpu() -> None:
    alloc = GpuAllocator(["0", "1"])
    assert alloc.allocate("half", 0.5) == ["0"]
    assert alloc.allocate("q1", 0.25) == ["0"]
    assert alloc.allocate("q2", 0.25) == ["0"]
    assert alloc.free_capacity() == {"0": 0.0, "1": 1.0}
    assert alloc.holders()["0"] == [("half", 0.5), ("q1", 0.25), ("q2", 0.25)]


def test_tenths_add_up_without_drift() -> None:
    alloc = GpuAllocator(["0"])
    assert all(alloc.allocate(f"job{i}", 0.1) == ["0"] for i in range(10))
    assert alloc.allocate("job10", 0.1) is None


def test_fraction_goes_to_the_fullest_gpu_that_fits() -> None:
    alloc = GpuAllocator(["0", "1", "2"])
    alloc.allocate("a", 0.5)  # on 0
    alloc.allocate("whole", 1)  # on 1
    alloc.allocate("b", 0.75)  # does not fit 0 → 2
    assert alloc.allocate("c", 0.25) == ["2"]  # 2 has 0.25 left, 0 has 0.5: fullest wins
    assert alloc.allocate("d", 0.5) == ["0"]


def test_whole_request_waits_for_fully_free_gpus() -> None:
    alloc = GpuAllocator(["0", "1"])
    assert alloc.allocate("small", 0.25) == ["0"]
    assert alloc.allocate("two", 2) is None  # 1.75 free in total, but only one GPU is whole
    assert alloc.allocate("one", 1) == ["1"]
    alloc.release("small")
    alloc.release("one")
    assert alloc.allocate("two", 2) == ["0", "1"]


def test_lowest_ids_first_numerically() -> None:
    alloc = GpuAllocator(["10", "2", "3"])
    assert alloc.allocate("a", 2) == ["2", "3"]
    assert alloc.allocate("b", 0.5) == ["10"]


def test_release_frees_and_is_idempotent() -> None:
    alloc = GpuAllocator(["0"])
    alloc.allocate("a", 0.75)
    alloc.release("a")
    alloc.release("a")
    alloc.release("never-allocated")
    assert alloc.free_capacity() == {"0": 1.0}
    assert alloc.holders() == {"0": []}


def test_cpu_job_gets_no_gpu_even_without_gpus() -> None:
    assert GpuAllocator([]).allocate("cpu", 0) == []
    assert GpuAllocator(["0"]).allocate("cpu", 0.0) == []


def test_asking_again_returns_what_the_job_holds() -> None:
    alloc = GpuAllocator(["0"])
    assert alloc.allocate("a", 0.5) == alloc.allocate("a", 0.5) == ["0"]
    assert alloc.free_capacity() == {"0": 0.5}


@pytest.mark.parametrize(
    ("gpu_ids", "gpus", "fragment"),
    [
        ([], 0.25, "this machine has 0 (set DLBENCH_GPUS=N"),
        (["0", "1"], 3, "asks for 3 GPU(s) but this machine has 2"),
    ],
)
def test_request_bigger_than_the_machine_is_refused(
    gpu_ids: list[str], gpus: float, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        GpuAllocator(gpu_ids).allocate("big", gpus)
    assert fragment in info.value.message


def test_restore_reregisters_a_running_job() -> None:
    alloc = GpuAllocator(["0", "1"])
    alloc.restore("frac", ["1"], 0.5)
    alloc.restore("whole", ["0"], 1)
    alloc.restore("frac", ["1"], 0.5)  # twice is harmless
    assert alloc.free_capacity() == {"0": 0.0, "1": 0.5}
    assert alloc.allocate("new", 0.75) is None
    assert alloc.allocate("new", 0.5) == ["1"]


@pytest.mark.parametrize(
    ("gpu_ids", "gpus", "fragment"),
    [
        (["0"], 0.5, "cannot restore job late on GPU 0: it would oversubscribe it"),
        (["7"], 0.5, "cannot restore job late on GPU 7: this machine has GPUs 0, 1"),
        (["0", "1"], 1, "gpus=1 does not match the GPU ids 0, 1"),
    ],
)
def test_restore_that_would_oversubscribe_is_refused(
    gpu_ids: list[str], gpus: float, fragment: str
) -> None:
    alloc = GpuAllocator(["0", "1"])
    alloc.allocate("running", 0.75)
    with pytest.raises(InvalidInput) as info:
        alloc.restore("late", gpu_ids, gpus)
    assert fragment in info.value.message
    assert alloc.free_capacity() == {"0": 0.25, "1": 1.0}


def test_concurrent_allocations_never_oversubscribe() -> None:
    alloc = GpuAllocator(["0", "1"])
    got: list[list[str] | None] = []
    lock = threading.Lock()

    def grab(i: int) -> None:
        held = alloc.allocate(f"job{i}", 0.25)
        with lock:
            got.append(held)

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(h is not None for h in got) == 8
    assert all(len(jobs) == 4 for jobs in alloc.holders().values())


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [(0, 0.0), (0.25, 0.25), (0.1 + 0.2, 0.3), (0.01, 0.01), (1, 1.0), (2.0, 2.0), (64, 64.0)],
)
def test_valid_gpu_requests(gpus: float, expected: float) -> None:
    assert check_gpu_request(gpus) == expected


@pytest.mark.parametrize(
    ("gpus", "fragment"),
    [
        (-1, "gpus=-1 is not allowed: use 0 (CPU only)"),
        (1.5, "gpus=1.5 is not allowed: a share must be below 1 GPU"),
        (0.333, "gpus=0.333 is finer than 1/100 of a GPU"),
        (float("nan"), "gpus=nan is not allowed"),
        (float("inf"), "gpus=inf is not allowed"),
        (65, "gpus=65 is more than 64"),
        ("0.5", "gpus must be a number"),
        (None, "gpus must be a number"),
        (True, "gpus must be a number"),
    ],
)
def test_invalid_gpu_requests_say_what_is_allowed(gpus: object, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_gpu_request(gpus)  # type: ignore[arg-type]
    assert fragment in info.value.message
    assert "a whole number of GPUs up to 64" in info.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", ["0", "1"]), ("0", []), (" 0,2 ", ["0", "2"]), ("3", ["0", "1", "2"])],
)
def test_dlbench_gpus_declares_logical_gpus(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("DLBENCH_GPUS", value)
    assert detect_gpus() == expected


@pytest.mark.parametrize("value", ["two", "-1", "1.5", "0,0", "0,", "65"])
def test_invalid_dlbench_gpus_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DLBENCH_GPUS", value)
    with pytest.raises(InvalidInput, match="DLBENCH_GPUS="):
        detect_gpus()


def test_without_nvidia_smi_there_are_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLBENCH_GPUS", raising=False)
    monkeypatch.setattr(resources.shutil, "which", lambda name: None)
    assert detect_gpus() == []


def _fake_smi(monkeypatch: pytest.MonkeyPatch, stdout: str, returncode: int = 0) -> None:
    import subprocess

    monkeypatch.delenv("DLBENCH_GPUS", raising=False)
    monkeypatch.setattr(resources.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(
        resources.subprocess,
        "run",
        lambda *a, **k: subprocess.CompletedProcess(a[0], returncode, stdout=stdout, stderr=""),
    )


SMI = "0, GPU-aaaa\n1, GPU-bbbb\n2, GPU-cccc\n"


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, ["0", "1", "2"]),
        ("2,0", ["2", "0"]),
        ("GPU-bbbb", ["1"]),
        ("", []),
        ("-1", []),
        ("1,-1,2", ["1"]),
    ],
)
def test_nvidia_smi_gpus_limited_to_cuda_visible_devices(
    monkeypatch: pytest.MonkeyPatch, visible: str | None, expected: list[str]
) -> None:
    _fake_smi(monkeypatch, SMI)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert detect_gpus() == expected


def test_failing_nvidia_smi_means_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_smi(monkeypatch, "NVIDIA-SMI has failed", returncode=9)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert detect_gpus() == []
