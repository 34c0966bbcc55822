"""One file-system poller per server, fanned out to every ``GET events`` stream.

The poll (``execution.watch.WorkspaceWatcher``) runs in the extension's thread pool, so the
event loop never waits on a ``stat``; it runs only while at least one client listens.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from concurrent.futures import Executor
from typing import Any

from jupyter_dlbench.execution.watch import WorkspaceWatcher
from jupyter_dlbench.store import Workspace

log = logging.getLogger(__name__)


class EventHub:
    """Subscribers get ``(id, kind, data)`` tuples on their own asyncio queue."""

    def __init__(self, ws: Workspace, executor: Executor, interval: float = 0.75) -> None:
        self.ws = ws
        self.executor = executor
        self.interval = interval
        self._queues: set[asyncio.Queue[tuple[int, str, dict[str, Any]]]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._watcher: WorkspaceWatcher | None = None

    def subscribe(self) -> asyncio.Queue[tuple[int, str, dict[str, Any]]]:
        queue: asyncio.Queue[tuple[int, str, dict[str, Any]]] = asyncio.Queue(maxsize=10_000)
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        # a fresh watcher takes stock first, so changes while nobody listened are not replayed
        self._watcher = WorkspaceWatcher(self.ws)
        while self._queues:
            try:
                changes = await loop.run_in_executor(self.executor, self._watcher.poll)
            except Exception:  # noqa: BLE001 - a bad poll must not end every stream
                log.exception("jupyter-dlbench: watching the workspace failed")
                changes = []
            for change in changes:
                item = (next(self._ids), change.kind, change.to_dict())
                for queue in list(self._queues):
                    if queue.full():
                        continue  # a stalled client loses events rather than memory
                    queue.put_nowait(item)
            await asyncio.sleep(self.interval)
        self._task = None

    async def stop(self) -> None:
        self._queues.clear()
        if self._task is not None:
            self._task.cancel()
