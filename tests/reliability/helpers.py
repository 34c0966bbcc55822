"""Helpers for the fault-injection tests: a fillable disk, a Ray head that is killed by process
id, and fresh-interpreter scripts."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest


class SmallDisk:
    """A tmpfs of a few MiB: ``fill()`` takes every free byte, ``free()`` gives them back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler.bin"

    def fill(self) -> None:
        block = b"\0" * 4096
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(block)
            except OSError:
                pass
        # the last page may be half used: take the remainder byte by byte
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0")
            except OSError:
                pass

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def spawn_script(code: str, *args: str, env: dict[str, str] | None = None,
                 **kwargs) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    """A fresh interpreter running ``code`` (never fork after duckdb is imported: DESIGN.md)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, **kwargs)


class RayHead:
    """`ray start --head` on loopback with its own temp folder; ``kill`` ends every process of
    it (found by that folder, and their children) by id — never `ray stop`, which would end
    every Ray process on the machine."""

    def __init__(self, temp: Path, num_cpus: int = 2) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.temp = temp
        ray_bin = Path(sys.executable).parent / "ray"
        env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
        done = subprocess.run(
            [str(ray_bin), "start", "--head", "--num-gpus=2", f"--num-cpus={num_cpus}", "--node-ip-address=127.0.0.1",
             f"--port={self.port}", "--include-dashboard=false", "--disable-usage-stats",
             f"--temp-dir={temp}"], capture_output=True, text=True, env=env, timeout=180, check=False)
        if done.returncode != 0:
            self.kill()
            shutil.rmtree(temp, ignore_errors=True)
            pytest.fail(f"ray start failed:\n{done.stdout}\n{done.stderr}")

    def processes(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for p in psutil.process_iter(["cmdline"]):
            if str(self.temp) in " ".join(p.info["cmdline"] or []):
                found[p.pid] = p
                try:
                    found.update((c.pid, c) for c in p.children(recursive=True))
                except psutil.Error:
                    pass
        found.pop(os.getpid(), None)
        return list(found.values())

    def kill(self) -> int:
        victims = self.processes()
        for p in victims:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        psutil.wait_procs(victims, timeout=10)
        return len(victims)
