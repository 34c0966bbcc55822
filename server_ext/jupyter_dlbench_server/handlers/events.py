"""``GET events``: server-sent events of run and job changes (see ``events.EventHub``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from tornado.iostream import StreamClosedError

from ..base import DlbenchHandler

HEARTBEAT_S = 15.0


class EventsHandler(DlbenchHandler):
    _track_activity = False  # an open stream is not user activity (idle culling)

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        hub = self.settings["dlbench_events"]
        ws = self.workspace  # raises the workspace error as JSON before the stream starts
        self._closed = asyncio.Event()
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache, no-transform")
        self.set_header("X-Accel-Buffering", "no")  # nginx: do not buffer the stream
        queue = hub.subscribe()
        try:
            await self._send("hello", 0, {"workspace": str(ws.root)})
            heartbeat = self.settings.get("dlbench_events_heartbeat", HEARTBEAT_S)
            while not self._closed.is_set():
                getter = asyncio.ensure_future(queue.get())
                closed = asyncio.ensure_future(self._closed.wait())
                done, _ = await asyncio.wait({getter, closed}, timeout=heartbeat,
                                             return_when=asyncio.FIRST_COMPLETED)
                closed.cancel()
                if getter in done:
                    event_id, kind, data = getter.result()
                    await self._send(kind, event_id, data)
                else:
                    getter.cancel()
                    if not self._closed.is_set():
                        self.write(": heartbeat\n\n")
                        await self.flush()
        except StreamClosedError:
            pass  # the client went away between our check and the write
        finally:
            hub.unsubscribe(queue)

    async def _send(self, kind: str, event_id: int, data: dict[str, Any]) -> None:
        self.write(f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n")
        await self.flush()

    def on_connection_close(self) -> None:
        closed = getattr(self, "_closed", None)
        if closed is not None:
            closed.set()
