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
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import DlbenchError
from .ray_policy import check_ray_address, parse_ray_address


class RayUnavailable(DlbenchError):
    code = "ray_unavailable"
    http_status = 503


def _execute_remote(nb_bytes: bytes, params: dict[str, Any], kernel_name: str, run_id: str,
                    journal_head: bytes, env: dict[str, str], timeout_s: float | None,
                    objects_actor: Any = None) -> dict[str, Any]:
    """Runs on a Ray worker. Returns everything the workspace needs back."""
    import tempfile

    import papermill

    from .remote_data import JournalShipper, ObjectProxy

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
        journal = run_dir / "journal.dlj"
        shipper = JournalShipper(objects_actor, journal, len(journal_head)) if objects_actor is not None else None
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
            if shipper is not None:
                shipper.close()
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
        # checked again here: the job may predate the setting, or RAY_ADDRESS be set only here
        target = check_ray_address(address)
        if parse_ray_address(target)[0] in ("127.0.0.1", "localhost", "::1", "auto", "local"):
            # a loopback cluster: without this Ray swaps 127.0.0.1 for the machine's other
            # address, which may be unreachable, and a head we start listens on every
            # interface (MACHINE-NOTES §5); read at import, so set first
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        if target == "local" and not any(os.environ.get(k) for k in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
            # the head we start requires a token (Ray's default for a new local cluster), but
            # one of its own: Ray would otherwise write ~/.ray/auth_token, which every later
            # `ray start --head` of this user then enforces on clients that lack it
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
        try:
            import ray
        except ImportError:
            raise RayUnavailable("the Ray executor needs Ray: pip install 'jupyter-dlbench[ray]'") from None
        self._ray = ray
        _check_reachable(target)
        try:
            if not ray.is_initialized():
                # `local` starts a head in this process: on loopback only, never reachable
                # from other machines
                loopback = {"_node_ip_address": "127.0.0.1"} if target == "local" else {}
                ray.init(address=target, include_dashboard=False, logging_level="ERROR",
                         log_to_driver=False, **loopback)
        except Exception as e:  # noqa: BLE001 - Ray raises many types for "cannot connect"
            raise RayUnavailable(f"cannot reach the Ray cluster at {target!r}: {str(e).strip()[:300]}") from None
        self._remote = ray.remote(_execute_remote).options(
            num_gpus=num_gpus, num_cpus=num_cpus, max_retries=retries, retry_exceptions=False)
        self._ref: Any = None
        self._objects: Any = None
        self._target = target
        self.lost = False  # the cluster's head stopped answering while the job ran

    def start_object_service(self, ws: Any, job_id: str) -> Any:
        """The actor serving the workspace's datasets to this job (on this node)."""
        from .remote_data import start_actor

        self._objects, _ = start_actor(ws, job_id)
        return self._objects

    def submit(self, *args: Any) -> None:
        self._ref = self._remote.remote(*args)

    def wait(self, poll: float, should_cancel: Any) -> dict[str, Any]:
        ray = self._ray
        head = _gcs_address(ray)
        lost_after = settings.ray_lost_after()
        down_since: float | None = None
        while True:
            ready, _ = ray.wait([self._ref], timeout=poll)
            if ready:
                try:
                    return ray.get(self._ref)
                except ray.exceptions.TaskCancelledError:
                    return {"cancelled": True}
                except ray.exceptions.RayError as e:
                    # the task's node died: with the head gone too, the whole cluster was lost
                    if head is not None and not _answers_within(head, lost_after):
                        return self._lost(head, lost_after)
                    return {"error": {"type": type(e).__name__, "text": _ray_reason(e)}}
            if head is not None:
                # Ray itself only notices a dead head after 60 s, and then ends this process
                # without a word (rpc_client.h: "Failed to connect to GCS ... will terminate")
                if _answers(head):
                    down_since = None
                elif down_since is None:
                    down_since = time.monotonic()
                elif time.monotonic() - down_since >= lost_after:
                    return self._lost(head, lost_after)
            if should_cancel():
                ray.cancel(self._ref, force=True)

    def _lost(self, head: str, lost_after: float) -> dict[str, Any]:
        self.lost = True
        return {"error": {"type": "RayClusterLost", "text": (
            f"lost the Ray cluster at {self._target!r}: its head ({head}) stopped answering "
            f"while the job ran (no answer for {lost_after:g} s)")}}

    def close(self) -> None:
        try:
            if self._objects is not None and not self.lost:  # a dead head cannot kill actors
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


def _gcs_address(ray: Any) -> str | None:
    """HOST:PORT of the cluster head's GCS, or None where it cannot be known (Ray Client)."""
    try:
        address = ray.get_runtime_context().gcs_address
    except Exception:  # noqa: BLE001 - older Ray, or a ray:// client connection
        return None
    host, _, port = str(address or "").rpartition(":")
    return address if host and port.isdigit() else None


def _answers_within(address: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _answers(address):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True


def _answers(address: str, timeout: float = 2.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError:
        return False
    return True


def _ray_reason(e: BaseException) -> str:
    name = type(e).__name__
    if "WorkerCrashed" in name or "NodeDied" in name or "ActorDied" in name:
        return f"the Ray worker running the job died ({name}); retries exhausted"
    return f"{name}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
