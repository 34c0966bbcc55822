from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

import jupyter_dlbench

from .. import payloads
from ..base import DlbenchHandler


class HealthHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        # Cheap on purpose: no catalog open, so it answers even while the catalog is busy.
        self.write_json(payloads.health(self.workspace, jupyter_dlbench.__version__))
