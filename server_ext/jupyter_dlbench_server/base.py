"""The base handler: services from settings, blocking calls off the event loop, and the one
place where errors become HTTP answers."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from jupyter_dlbench.errors import DlbenchError, InvalidInput
from jupyter_dlbench.store import Workspace

T = TypeVar("T")

# Same rule as the library's run ids; checked here so a bad id is a 400, not a lookup.
RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    500: "internal_error",
    503: "unavailable",
}


class DlbenchHandler(APIHandler):
    """Base of every ``/dlbench/api`` handler; answers and errors are JSON ``{"message", "code"}``."""

    auth_resource = "dlbench"

    @property
    def workspace(self) -> Workspace:
        workspace = self.settings.get("dlbench_workspace")
        if workspace is None:
            raise self.settings.get("dlbench_workspace_error") or DlbenchError(
                "the jupyter-dlbench server extension has no workspace; see the server log"
            )
        return workspace

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a library call that may open the DuckDB catalog (and wait on its lock) in the
        extension's thread pool, so the server keeps answering meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.settings["dlbench_executor"], functools.partial(fn, *args)
        )

    def text_argument(self, name: str) -> str | None:
        """A query argument; absent and empty are both ``None``."""
        value = self.get_query_argument(name, None)
        return value if value else None

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        text = raw.strip()
        if not re.fullmatch(r"[0-9]{1,12}", text) or not low <= int(text) <= high:
            raise InvalidInput(
                f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}"
            )
        return int(text)

    def run_id(self, raw: str) -> str:
        if not RUN_ID.fullmatch(raw):
            raise InvalidInput(
                f"{raw[:80]!r} is not a run id: run ids are 1 to 200 letters, digits, '.', "
                "'_' or '-'"
            )
        return raw

    def write_json(self, payload: Any) -> None:
        # allow_nan=False: a NaN that slipped past the payload conversion fails loudly here
        # (a 500 in the log) instead of sending JSON that browsers cannot parse.
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, allow_nan=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error answer of the extension, mapped once (STYLE.md convention 2)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, DlbenchError):
            self.set_status(error.http_status)
            body = error.to_dict()
        elif isinstance(error, HTTPError):
            message = error.log_message or self._reason
            if error.log_message and error.args:
                message = error.log_message % error.args
            body = {"message": message, "code": _HTTP_CODES.get(status_code, f"http_{status_code}")}
        else:
            # The traceback goes to the server log (log_exception), never to the client.
            body = {
                "message": "internal server error; the Jupyter server log has the details",
                "code": "internal_error",
            }
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, DlbenchError) and value.http_status < 500:
            # A user mistake: one line, no traceback.
            self.log.warning(
                "%s %s -> %s %s: %s",
                self.request.method,
                self.request.path,
                value.http_status,
                value.code,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)
