"""Fixtures for fault injection: a real, small disk that can be filled, and script runners."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import SmallDisk


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    """A real ENOSPC: the workspace lives on its own 16 MiB tmpfs (needs root to mount).

    Where mounting is not allowed the test is skipped; the ``*_injected`` tests cover the
    same code paths by raising ENOSPC from the system calls instead.
    """
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                              capture_output=True, text=True, check=False, timeout=30)
        why = (done.stderr.strip() or f"mount exited {done.returncode}") if done.returncode else ""
    except OSError as e:  # no mount command at all
        why = str(e)
    if why:
        pytest.skip(f"cannot mount a tmpfs here ({why}); see the *_injected tests")
    try:
        monkeypatch.setenv("DLBENCH_HOME", str(mount / ".dlbench"))
        monkeypatch.setenv("DLBENCH_CAPTURE_PACKAGES", "0")
        monkeypatch.setenv("DLBENCH_CAPTURE_SYSTEM", "0")
        monkeypatch.chdir(mount)
        yield SmallDisk(mount)
    finally:
        monkeypatch.chdir(tmp_path)
        subprocess.run(["umount", "-l", str(mount)], check=False)
