"""Datasets for jobs on other machines: each node keeps an object cache and fetches only what
that cache lacks.

Three parts, because the kernel that calls ``dlb.dataset`` is neither connected to Ray nor on
the machine that holds the workspace:

- ``WorkspaceObjects``: a Ray actor the job's runner starts on its own node (the workspace
  host). It resolves ``name@version`` in the real catalog, answers which objects exist, hands
  out object bytes and commits versions a job produces.
- ``ObjectProxy``: a thread in the Ray task's process (which is connected to Ray) listening
  on a Unix socket in the job's private folder, with a random key. It keeps the node's object
  cache (a workspace-shaped folder, ``DLBENCH_NODE_CACHE`` or ``~/.cache/jupyter-dlbench``),
  asks the actor only for missing objects, checks every received object's BLAKE3 hash, and
  materialises versions there, read-only and shared by later jobs on the node.
- ``open_dataset``/``log_dataset`` here: what ``dlb.dataset``/``dlb.log_dataset`` call inside
  a remote job (``DLBENCH_OBJECT_SOURCE`` set) instead of the local catalog.
"""

from __future__ import annotations

import os
import secrets
import threading
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

from ..errors import DlbenchError, InvalidInput, ObjectCorrupt
from ..store import Workspace

SOURCE_ENV = "DLBENCH_OBJECT_SOURCE"
KEY_ENV = "DLBENCH_OBJECT_SOURCE_KEY"
NODE_CACHE_ENV = "DLBENCH_NODE_CACHE"
BATCH_BYTES = 64 << 20  # per fetch round trip: bounded memory, few round trips


class RemoteDataError(DlbenchError):
    code = "remote_data"
    http_status = 502


def node_cache() -> Workspace:
    """This node's object cache: shared by every job the node runs, so a dataset version's
    objects cross the network once per node."""
    root = Path(os.environ.get(NODE_CACHE_ENV) or Path.home() / ".cache" / "jupyter-dlbench")
    (root / "objects").mkdir(parents=True, exist_ok=True)
    return Workspace.find_at(root)


# -- the workspace side (a Ray actor on the runner's node) ---------------------------------

class WorkspaceObjects:
    """Serves one workspace's datasets to the remote side of one job, and keeps the journal
    records the job has written so far (``ship_journal``)."""

    def __init__(self, workspace_root: str, job_id: str | None = None) -> None:
        self.ws = Workspace.find_at(workspace_root)
        self.job_id = job_id

    def ship_journal(self, attempt: str, offset: int, data: bytes) -> int:
        """Store complete journal records of one remote attempt beside the job, from ``offset``.

        The run's own journal gets the records only when the task returns; these copies let
        the runner keep what was logged when the task never returns (its worker, node or the
        whole cluster lost). One file per attempt, so a Ray retry never duplicates points.
        """
        path = shipped_journal_path(self.ws, self.job_id or "", attempt)
        with open(path, "ab+") as f:
            size = f.seek(0, os.SEEK_END)
            if size < offset:
                raise RemoteDataError(f"journal records of job {self.job_id} arrived with a gap "
                                      f"({size} bytes kept, next part starts at {offset})")
            if size > offset:  # a part sent again after its answer was lost
                f.truncate(offset)
            f.write(data)
            f.flush()
        return offset + len(data)

    def resolve(self, name: str, version: str) -> tuple[dict[str, Any], bytes]:
        from .. import data

        # a writable session folds in versions added a moment ago (see store.dataset_records)
        with self.ws.catalog.session(write=True) as session:
            info = data.resolve(session, name, version)
        return info.to_json(), self.ws.objects.read_bytes(info.manifest_oid)

    def missing(self, oids: list[str]) -> list[str]:
        return [o for o in oids if not self.ws.objects.exists(o)]

    def fetch(self, oids: list[str]) -> dict[str, bytes]:
        return {o: self.ws.objects.read_bytes(o) for o in oids}

    def put(self, blobs: dict[str, bytes]) -> int:
        import blake3

        for oid, blob in blobs.items():
            if blake3.blake3(blob).hexdigest() != oid:
                raise ObjectCorrupt(f"object {oid} arrived corrupted from a remote job")
            self.ws.objects.put_bytes(blob)
        return len(blobs)

    def commit(self, name: str, manifest_bytes: bytes, message: str, metadata: dict[str, Any] | None,
               producer_run_id: str | None) -> dict[str, Any]:
        from .. import data

        manifest = data.Manifest.from_bytes(manifest_bytes, f"manifest for {name}")
        version = data.commit(self.ws, name, manifest, message=message, metadata=metadata,
                              producer_run_id=producer_run_id)
        return version.to_json()


def start_actor(ws: Workspace, job_id: str) -> tuple[Any, str]:
    """Start the serving actor on this process's node; returns (handle, name)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    name = f"dlbench-objects-{job_id}"
    here = ray.get_runtime_context().get_node_id()
    actor = ray.remote(WorkspaceObjects).options(
        name=name, num_cpus=0, max_concurrency=4,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False),
    ).remote(str(ws.root), job_id)
    return actor, name


def shipped_journal_path(ws: Workspace, job_id: str, attempt: str) -> Path:
    from .jobs import JobStore

    return JobStore(ws).dir(job_id) / f"remote-journal-{attempt}.dlj"


def take_shipped_journal(ws: Workspace, job_id: str) -> bytes:
    """The records the job's latest remote attempt shipped, and forget every attempt's copy."""
    from .jobs import JobStore

    parts = sorted(JobStore(ws).dir(job_id).glob("remote-journal-*.dlj"), key=lambda p: p.stat().st_mtime)
    data = parts[-1].read_bytes() if parts else b""
    for part in parts:
        part.unlink(missing_ok=True)
    return data


# -- the node side (threads in the Ray task's process) -------------------------------------

class JournalShipper:
    """Sends the remote run journal's new complete records to the actor every ``interval``
    seconds, so that losing the task (or the cluster) loses at most the last interval."""

    def __init__(self, actor: Any, journal: Path, start: int, interval: float = 0.5) -> None:
        self.actor, self.journal, self.start, self.interval = actor, journal, start, interval
        self.attempt = secrets.token_hex(6)
        self.sent = start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dlbench-journal-ship", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.ship()
            except Exception:  # noqa: BLE001 - the actor is gone: the result still carries all
                return

    def ship(self) -> None:
        import ray

        from ..tracking.journal import read_journal

        end = read_journal(self.journal, self.sent).end  # complete records only
        if end > self.sent:
            with open(self.journal, "rb") as f:
                f.seek(self.sent)
                data = f.read(end - self.sent)
            ray.get(self.actor.ship_journal.remote(self.attempt, self.sent - self.start, data), timeout=30)
            self.sent = end

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=35)


class ObjectProxy:
    """Answers the kernel's requests on a Unix socket, fetching through the actor."""

    def __init__(self, actor: Any, folder: Path) -> None:
        self.actor = actor
        self.cache = node_cache()
        self.address = str(folder / "objects.sock")
        self.key = secrets.token_bytes(32)
        self.stats = {"objects_fetched": 0, "bytes_fetched": 0, "objects_reused": 0,
                      "objects_sent": 0, "versions": []}
        self._listener = Listener(self.address, family="AF_UNIX", authkey=self.key)
        self._thread = threading.Thread(target=self._serve, name="dlbench-object-proxy", daemon=True)
        self._thread.start()

    def env(self) -> dict[str, str]:
        return {SOURCE_ENV: self.address, KEY_ENV: self.key.hex(), NODE_CACHE_ENV: str(self.cache.root)}

    def close(self) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except OSError:  # closed at job end
                return
            except Exception:  # noqa: BLE001 - a client with a wrong key: ignore it
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: Any) -> None:
        with conn:
            try:
                op, args = conn.recv()
                reply = {"ok": getattr(self, f"_op_{op}")(*args)}
            except DlbenchError as e:
                reply = {"error": e.message, "type": type(e).__name__}
            except Exception as e:  # noqa: BLE001 - reported to the kernel, which raises ours
                reply = {"error": f"{type(e).__name__}: {str(e)[:500]}", "type": "RemoteDataError"}
            conn.send(reply)

    def _op_open(self, name: str, version: str) -> dict[str, Any]:
        import ray

        from .. import data
        from ..data.checkout import materialise

        info, manifest_bytes = ray.get(self.actor.resolve.remote(name, version))
        manifest = data.Manifest.from_bytes(manifest_bytes, f"manifest of {name}@{info['version']}")
        objects = self.cache.objects
        wanted = sorted(manifest.oids())
        lacking = [o for o in wanted if not objects.exists(o)]
        self.stats["objects_reused"] += len(wanted) - len(lacking)
        sizes = {e.oid: e.size for e in manifest.entries.values() if e.oid}
        for batch in _batches(lacking, sizes):
            for oid, blob in ray.get(self.actor.fetch.remote(batch)).items():
                if objects.put_bytes(blob).oid != oid:
                    raise ObjectCorrupt(f"object {oid} of {name}@{info['version']} arrived corrupted")
                self.stats["objects_fetched"] += 1
                self.stats["bytes_fetched"] += len(blob)
        objects.put_bytes(manifest_bytes)
        path = materialise(self.cache, info["manifest_oid"], manifest,
                                         f"{name}@{info['version']}")
        self.stats["versions"].append(f"{name}@{info['version']}")
        return {"info": info, "manifest": manifest_bytes, "path": str(path)}

    def _op_log(self, name: str, path: str, message: str, metadata: dict[str, Any] | None,
                producer_run_id: str | None) -> dict[str, Any]:
        import ray

        from ..data.snapshot import snapshot

        manifest, _ = snapshot(self.cache.objects, path, None, progress=False)
        oids = sorted(manifest.oids())
        lacking = ray.get(self.actor.missing.remote(oids))
        sizes = {e.oid: e.size for e in manifest.entries.values() if e.oid}
        for batch in _batches(lacking, sizes):
            ray.get(self.actor.put.remote({o: self.cache.objects.read_bytes(o) for o in batch}))
            self.stats["objects_sent"] += len(batch)
        info = ray.get(self.actor.commit.remote(name, manifest.to_bytes(), message, metadata,
                                                producer_run_id))
        return {"info": info}


def _batches(oids: list[str], sizes: dict[str, int]) -> list[list[str]]:
    out: list[list[str]] = []
    current: list[str] = []
    total = 0
    for oid in oids:
        size = sizes.get(oid, 0)
        if current and total + size > BATCH_BYTES:
            out.append(current)
            current, total = [], 0
        current.append(oid)
        total += size
    if current:
        out.append(current)
    return out


# -- the kernel side -----------------------------------------------------------------------

def active() -> bool:
    """True inside a job whose workspace is on another machine."""
    return bool(os.environ.get(SOURCE_ENV))


def _call(op: str, *args: Any) -> dict[str, Any]:
    address, key = os.environ[SOURCE_ENV], bytes.fromhex(os.environ.get(KEY_ENV, ""))
    try:
        with Client(address, family="AF_UNIX", authkey=key) as conn:
            conn.send((op, args))
            reply = conn.recv()
    except (OSError, EOFError) as e:
        raise RemoteDataError(f"cannot reach this job's dataset service at {address}: {e}") from None
    if "error" in reply:
        if reply.get("type") in ("NotFound", "InvalidInput", "DatasetNotFound"):
            raise InvalidInput(reply["error"])
        raise RemoteDataError(reply["error"])
    return reply["ok"]


def open_dataset(name: str, version: str = "latest") -> Any:
    """``dlb.dataset`` in a remote job: the version, materialised in this node's cache."""
    from .. import data

    reply = _call("open", name, version)
    info = data.DatasetVersion(**{k: v for k, v in reply["info"].items() if k != "created"})
    manifest = data.Manifest.from_bytes(reply["manifest"], f"manifest of {info.ref}")
    return data.Dataset(info.name, info.version, Path(reply["path"]), manifest, info)


def log_dataset(name: str, path: str, message: str = "", metadata: dict[str, Any] | None = None,
                producer_run_id: str | None = None) -> Any:
    """``dlb.log_dataset`` in a remote job: committed in the real workspace, objects sent once."""
    from .. import data

    if not Path(path).exists():
        raise InvalidInput(f"{path!r} does not exist: log_dataset needs a folder or a file")
    reply = _call("log", name, str(Path(path).resolve()), message, metadata, producer_run_id)
    return data.DatasetVersion(**{k: v for k, v in reply["info"].items() if k != "created"})
