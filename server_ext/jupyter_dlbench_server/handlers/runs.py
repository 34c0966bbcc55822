from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from .. import payloads
from ..base import DlbenchHandler

DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000


class RunsHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        project = self.text_argument("project")
        where = self.text_argument("where")
        limit = self.int_argument("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        self.write_json(
            await self.blocking(payloads.run_list, self.workspace, project, where, limit)
        )


class RunHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        ref = self.run_id(run_id)
        self.write_json(await self.blocking(payloads.run_detail, self.workspace, ref))


class RunMetricsHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        ref = self.run_id(run_id)
        key = self.text_argument("key")
        self.write_json(await self.blocking(payloads.metric_history, self.workspace, ref, key))
