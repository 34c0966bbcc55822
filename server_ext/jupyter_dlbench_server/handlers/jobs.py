"""Jobs: submit (one notebook or a sweep), list, show, cancel, logs; notebook parameters."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from .. import jobs, sweeps
from ..base import DlbenchHandler

DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000
MAX_LOG_BYTES = 16 << 20


class JobsHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        raw = self.text_argument("status")
        statuses = [s.strip() for s in raw.split(",") if s.strip()] if raw else None
        offset = self.int_argument("offset", 0, 0, 10**12)
        limit = self.int_argument("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        self.write_json(await self.blocking(
            jobs.list_jobs, self.workspace, self.root_dir, statuses, offset, limit))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body(jobs.JOB_FIELDS, required=("notebook",))
        if body.get("sweep"):
            result = await self.blocking(sweeps.submit_sweep, self.workspace, self.root_dir, body)
        else:
            result = await self.blocking(jobs.submit, self.workspace, self.root_dir, body)
        self.set_status(201)
        self.write_json(result)


class SweepPreviewHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body(jobs.JOB_FIELDS, required=("notebook", "sweep"))
        self.write_json(await self.blocking(sweeps.preview, self.root_dir, body))


class JobHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        ref = self.job_id(job_id)
        self.write_json(await self.blocking(jobs.get_job, self.workspace, self.root_dir, ref))

    @tornado.web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        ref = self.job_id(job_id)
        result = await self.blocking(jobs.cancel_job, self.workspace, self.root_dir, ref)
        self.set_status(202)
        self.write_json(result)


class JobLogsHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        ref = self.job_id(job_id)
        offset = self.int_argument("offset", 0, 0, 1 << 50)
        max_bytes = self.int_argument("max_bytes", 1 << 20, 1, MAX_LOG_BYTES)
        fmt = self.text_argument("format") or "json"
        if fmt not in ("json", "text"):
            raise jobs.BodyError(f"format must be json or text, got {fmt[:40]!r}", "format")
        piece = await self.blocking(jobs.job_log, self.workspace, ref, offset, max_bytes)
        if fmt == "json":
            self.write_json(piece)
            return
        self.set_header("X-Next-Offset", str(piece["next_offset"]))
        await self.finish(piece["text"].encode("utf-8"),
                          set_content_type="text/plain; charset=utf-8")


class NotebookParametersHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.raw_argument("path")
        self.write_json(await self.blocking(jobs.notebook_parameters, self.root_dir, path))
