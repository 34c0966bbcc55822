"""Datasets: the list, a dataset's versions, one version with its files."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from .. import datasets
from ..base import DlbenchHandler

MAX_FILES = 100_000


class DatasetsHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.blocking(datasets.list_datasets, self.workspace))


class DatasetVersionsHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.blocking(datasets.list_versions, self.workspace, name))


class DatasetVersionHandler(DlbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        offset = self.int_argument("offset", 0, 0, 10**12)
        limit = self.int_argument("limit", 1000, 0, MAX_FILES)
        self.write_json(await self.blocking(
            datasets.version_detail, self.workspace, name, version, offset, limit))
