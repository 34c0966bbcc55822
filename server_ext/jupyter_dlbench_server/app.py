"""The extension app: builds the shared services once into the Tornado settings.

Handlers read ``dlbench_workspace`` and ``dlbench_executor`` from ``self.settings``; nothing
here knows about HTTP. Shape after jupyter-scheduler's ``extension.py``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Integer, Unicode

from jupyter_dlbench.errors import DlbenchError
from jupyter_dlbench.store import Workspace
from jupyter_dlbench.tracking.listing import RunListing

from .events import EventHub
from .routes import handlers


class DlbenchServer(ExtensionApp):
    """Serve runs, metrics, artifacts, jobs and live events of one jupyter-dlbench workspace."""

    name = "jupyter_dlbench_server"
    load_other_extensions = True

    workspace = Unicode(
        "",
        config=True,
        help=(
            "The workspace folder (the `.dlbench` directory) this server reads. Empty: "
            "$DLBENCH_HOME if set, else the nearest `.dlbench` at or above the server's "
            "root_dir, created there when none exists. A relative path is taken from root_dir."
        ),
    )

    catalog_threads = Integer(
        4,
        config=True,
        help=(
            "Worker threads for blocking catalog calls. Catalog opens are serialised by the "
            "workspace lock, so more threads only queue; they keep the event loop free."
        ),
    )

    run_scheduler = Bool(
        True,
        config=True,
        help=(
            "Run the local job scheduler inside this server (the embedded default). When a "
            "`dlbench worker` already holds the workspace's scheduler lock, this server waits "
            "and takes over when that worker stops."
        ),
    )

    events_interval = Float(
        0.75,
        config=True,
        help=(
            "Seconds between two looks at the workspace's files for `GET /dlbench/api/events` "
            "(only while a client listens)."
        ),
    )

    def initialize_settings(self) -> None:
        workspace, error = None, None
        try:
            workspace = self._open_workspace()
            self.log.info("jupyter-dlbench: serving the workspace %s", workspace.root)
        except DlbenchError as e:
            # Keep the server up; every dlbench request answers with this error instead.
            self.log.error("jupyter-dlbench: no workspace: %s", e.message)
            error = e
        self._scheduler_stop = threading.Event()
        if workspace is not None and self.run_scheduler:
            threading.Thread(target=self._scheduler_loop, args=(workspace,),
                             name="dlbench-scheduler", daemon=True).start()
        executor = ThreadPoolExecutor(
            max_workers=max(1, self.catalog_threads), thread_name_prefix="dlbench-catalog"
        )
        self.settings.update(
            dlbench_workspace=workspace,
            dlbench_workspace_error=error,
            dlbench_executor=executor,
            # the runs table kept between requests, re-read only when files changed
            dlbench_listing=RunListing(workspace) if workspace is not None else None,
            dlbench_events=EventHub(workspace, executor, self.events_interval)
            if workspace is not None else None,
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    def _scheduler_loop(self, workspace: Workspace) -> None:
        from jupyter_dlbench.execution.scheduler import LocalScheduler

        scheduler = LocalScheduler(workspace)
        while not self._scheduler_stop.is_set():
            try:
                if scheduler.acquire(wait=False):
                    self.log.info("jupyter-dlbench: scheduling jobs (%d GPU(s), concurrency %d)",
                                  len(scheduler.gpu_ids), scheduler.concurrency)
                    try:
                        scheduler.run_forever(self._scheduler_stop)
                    finally:
                        scheduler.release()
            except Exception:  # noqa: BLE001 - log, back off, keep the server serving
                self.log.exception("jupyter-dlbench: the job scheduler failed; restarting it")
            self._scheduler_stop.wait(5.0)

    async def stop_extension(self) -> None:
        self._scheduler_stop.set()
        hub = self.settings.get("dlbench_events")
        if hub is not None:
            await hub.stop()
        executor = self.settings.get("dlbench_executor")
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _open_workspace(self) -> Workspace:
        assert self.serverapp is not None
        root_dir = Path(self.serverapp.root_dir).expanduser()
        if self.workspace:
            path = Path(self.workspace).expanduser()
            return Workspace.find_at(path if path.is_absolute() else root_dir / path)
        # Walk up from the server's root_dir, never from the process's cwd (DESIGN.md).
        return Workspace.find(start=root_dir)
