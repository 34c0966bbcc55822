"""``GET runs/{id}/report``: the run's report, HTML (sandboxed, see ``report``) or Markdown."""

from __future__ import annotations

import tornado.iostream
import tornado.web
from jupyter_server.auth.decorator import authorized

from .. import report
from ..base import BodyError, DlbenchHandler


class RunReportHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        ref = self.run_id(run_id)
        fmt = self.text_argument("format") or "html"
        if fmt not in report.FORMATS:
            raise BodyError(f"format must be html or md, got {fmt[:40]!r}", "format")
        text = await self.blocking(report.run_report, self.workspace, ref, fmt)
        self.set_header("Cache-Control", "no-store")
        if fmt == "md":
            await self._send(text, "text/markdown; charset=utf-8")
            return
        self.set_header("Content-Security-Policy", report.content_security_policy(text))
        await self._send(text, "text/html; charset=utf-8")

    async def _send(self, text: str, content_type: str) -> None:
        """A report takes a moment to build; a reader who navigated away meanwhile has closed
        the connection, which is not an error worth a traceback in the server log."""
        try:
            await self.finish(text.encode("utf-8"), set_content_type=content_type)
        except tornado.iostream.StreamClosedError:
            pass
