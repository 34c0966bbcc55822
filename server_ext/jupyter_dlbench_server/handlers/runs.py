"""Runs: the list, one run, its metric histories and its artifacts."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from urllib.parse import quote

import tornado.web
from jupyter_server.auth.decorator import authorized
from tornado.iostream import StreamClosedError

from .. import jobs, payloads
from ..base import DlbenchHandler
from ..paths import check_relative

DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000
MAX_POINTS = 1_000_000
CHUNK = 1 << 20

# Types a browser may show inline without running anything; everything else (HTML, SVG, JS,
# XML...) is sent as bytes, so an artifact can never script the JupyterLab origin.
SAFE_TYPES = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "text/csv",
    "application/json", "application/pdf",
}


class RunsHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        statuses = self.text_argument("status")
        options = {
            "project": self.text_argument("project"),
            "where": self.text_argument("where"),
            "statuses": [s.strip() for s in statuses.split(",") if s.strip()] if statuses else None,
            "text": self.text_argument("q"),
            "sort": self.text_argument("sort"),
            "offset": self.int_argument("offset", 0, 0, 10**12),
            "limit": self.int_argument("limit", DEFAULT_LIMIT, 0, MAX_LIMIT),
        }
        ws, listing = self.workspace, self.settings.get("dlbench_listing")
        self.write_json(await self.blocking(lambda: payloads.run_list(ws, listing, **options)))


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
        raw = self.text_argument("keys") or self.text_argument("key")
        keys = [k.strip() for k in raw.split(",") if k.strip()] if raw else None
        points = None
        if self.text_argument("points"):
            points = self.int_argument("points", 0, 4, MAX_POINTS)
        self.write_json(
            await self.blocking(payloads.metric_history, self.workspace, ref, keys, points)
        )


class RunRerunHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        ref = self.run_id(run_id)
        body = self.json_body(jobs.RERUN_FIELDS)
        result = await self.blocking(jobs.rerun, self.workspace, self.root_dir, ref, body)
        self.set_status(201)
        self.write_json(result)


class ArtifactHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, path: str) -> None:
        ref = self.run_id(run_id)
        clean = check_relative(path, "artifact path", "path").as_posix()
        _, file, size = await self.blocking(payloads.artifact, self.workspace, ref, clean)
        name = PurePosixPath(clean).name
        guessed, _ = mimetypes.guess_type(name)
        ctype = guessed if guessed in SAFE_TYPES else "application/octet-stream"
        self.set_header("Content-Type", ctype)  # now: the first flush sends the headers
        self.set_header("Content-Disposition",
                        f"attachment; filename*=UTF-8''{quote(name, safe='')}")
        self.set_header("Content-Length", str(size))
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        with open(file, "rb") as f:
            while chunk := f.read(CHUNK):
                self.write(chunk)
                try:
                    await self.flush()
                except StreamClosedError:
                    return  # the client went away
        await self.finish(set_content_type=ctype)
