"""The Ray executor: each job becomes one Ray task with ``num_gpus``/``num_cpus``.

Ray places the task on a node with free resources (its autoscaler adds nodes when none has),
sets ``CUDA_VISIBLE_DEVICES`` for it, and retries it when its worker dies (``max_retries``).
Nodes need not share a filesystem: the task gets the notebook snapshot and the run's start
record as bytes, runs papermill in a private temporary workspace, and returns the journal
records, the objects the notebook stored and the output notebook, which the local runner folds
into the real workspace.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from ..errors import DlbenchError


class RayUnavailable(DlbenchError):
    code = "ray_unavailable"
    http_status = 503


def _execute_remote(nb_bytes: bytes, params: dict[str, Any], kernel_name: str, run_id: str,
                    journal_head: bytes, env: dict[str, str], timeout_s: float | None,
                    objects_actor: Any = None) -> dict[str, Any]:
    """Runs on a Ray worker. Returns everything the workspace needs back."""
    import tempfile

    import papermill

    from .remote_data import ObjectProxy

    with tempfile.TemporaryDirectory(prefix="dlbench-ray-") as tmp:
        root = Path(tmp) / ".dlbench"
        run_dir = root / "runs" / run_id
        run_dir.mkdir(parents=True)
        (root / "objects").mkdir()
        (run_dir / "journal.dlj").write_bytes(journal_head)
        nb_path = Path(tmp) / "input.ipynb"
        nb_path.write_bytes(nb_bytes)
        out_path = Path(tmp) / "output.ipynb"
        os.environ.update(env)
        os.environ.update({"DLBENCH_HOME": str(root), "DLBENCH_RUN_ID": run_id,
                           "DLBENCH_INPUT_NOTEBOOK": str(nb_path)})
        # the kernel reaches the workspace's datasets through this process (Ray-connected)
        proxy = ObjectProxy(objects_actor, Path(tmp)) if objects_actor is not None else None
        if proxy is not None:
            os.environ.update(proxy.env())
        error: dict[str, Any] | None = None
        try:
            papermill.execute_notebook(str(nb_path), str(out_path), parameters=params,
                                       kernel_name=kernel_name, cwd=tmp, progress_bar=False,
                                       log_output=True, request_save_on_cell_execute=True,
                                       execution_timeout=timeout_s)
        except Exception as e:  # noqa: BLE001 - sent back as data; the driver decides
            error = {"type": type(e).__name__, "ename": getattr(e, "ename", None),
                     "evalue": getattr(e, "evalue", None), "cell_index": getattr(e, "cell_index", None),
                     "text": str(e)[:2000]}
        finally:
            if proxy is not None:
                proxy.close()
        objects = {}
        for fan in (root / "objects").iterdir():
            if fan.is_dir():
                for f in fan.iterdir():
                    objects[fan.name + f.name] = f.read_bytes()
        import ray

        return {
            "journal_tail": (run_dir / "journal.dlj").read_bytes()[len(journal_head):],
            "output": out_path.read_bytes() if out_path.exists() else None,
            "objects": objects,
            "error": error,
            "host": socket.gethostname(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "transfer": proxy.stats if proxy is not None else None,
        }


class RayJob:
    """One submitted task; ``wait`` returns its result dict, ``cancel`` stops it."""

    def __init__(self, address: str | None, num_gpus: float, num_cpus: float, retries: int) -> None:
        target = address or os.environ.get("RAY_ADDRESS") or "auto"
        if target.split(":")[0] in ("127.0.0.1", "localhost", "auto"):
            # a loopback cluster: without this Ray swaps 127.0.0.1 for the machine's other
            # address, which may be unreachable (MACHINE-NOTES §5); read at import, so set first
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError:
            raise RayUnavailable("the Ray executor needs Ray: pip install 'jupyter-dlbench[ray]'") from None
        self._ray = ray
        _check_reachable(target)
        try:
            if not ray.is_initialized():
                ray.init(address=target, include_dashboard=False, logging_level="ERROR",
                         log_to_driver=False)
        except Exception as e:  # noqa: BLE001 - Ray raises many types for "cannot connect"
            raise RayUnavailable(f"cannot reach the Ray cluster at {target!r}: {str(e).strip()[:300]}") from None
        self._remote = ray.remote(_execute_remote).options(
            num_gpus=num_gpus, num_cpus=num_cpus, max_retries=retries, retry_exceptions=False)
        self._ref: Any = None
        self._objects: Any = None

    def start_object_service(self, ws: Any, job_id: str) -> Any:
        """The actor serving the workspace's datasets to this job (on this node)."""
        from .remote_data import start_actor

        self._objects, _ = start_actor(ws, job_id)
        return self._objects

    def submit(self, *args: Any) -> None:
        self._ref = self._remote.remote(*args)

    def wait(self, poll: float, should_cancel: Any) -> dict[str, Any]:
        ray = self._ray
        while True:
            ready, _ = ray.wait([self._ref], timeout=poll)
            if ready:
                try:
                    return ray.get(self._ref)
                except ray.exceptions.TaskCancelledError:
                    return {"cancelled": True}
                except ray.exceptions.RayError as e:
                    return {"error": {"type": type(e).__name__, "text": _ray_reason(e)}}
            if should_cancel():
                ray.cancel(self._ref, force=True)

    def close(self) -> None:
        try:
            if self._objects is not None:
                self._ray.kill(self._objects)
            self._ray.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes: ``ray.init`` retries an unreachable GCS for a long time."""
    if address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"Ray address {address!r} is not HOST:PORT (or 'auto', or ray://HOST:PORT)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {address!r}: {e.strerror or e}; start one with "
            "`ray start --head` or pass --ray-address") from None


def _ray_reason(e: BaseException) -> str:
    name = type(e).__name__
    if "WorkerCrashed" in name or "NodeDied" in name or "ActorDied" in name:
        return f"the Ray worker running the job died ({name}); retries exhausted"
    return f"{name}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
