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
    409: "conflict",
    415: "unsupported_media_type",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}

# Job ids as the library makes them (``job-20261125-112233-abcdef``); prefixes allowed.
JOB_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


class BodyError(InvalidInput):
    """A request input (body field or query argument) the endpoint cannot take; ``field``
    names it so a form can show the message beside that input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class JobStateConflict(DlbenchError):
    """What was asked of a job its state no longer allows (cancelling a finished one)."""

    code = "job_state"
    http_status = 409


class NotAvailable(DlbenchError):
    code = "not_implemented"
    http_status = 501


def error_body(error: DlbenchError) -> dict[str, str]:
    """The JSON of a library error, with ``field`` when it is about one input."""
    body = error.to_dict()
    field = getattr(error, "field", None)
    parameter = getattr(error, "parameter", None)  # execution.notebooks.ParameterError
    if isinstance(field, str) and field:
        body["field"] = field
    elif isinstance(parameter, str) and parameter:
        body["field"] = f"params.{parameter}"
    return body


_JSON_TYPE = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              dict: "an object", list: "an array", type(None): "null"}


class DlbenchHandler(APIHandler):
    """Base of every ``/dlbench/api`` handler; errors are JSON ``{"message", "code", "field"?}``."""

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

    def raw_argument(self, name: str) -> str:
        """A query argument exactly as sent: tornado's ``get_query_argument`` replaces control
        characters, which would turn a NUL byte in a path into a harmless-looking space."""
        values = self.request.query_arguments.get(name) or [b""]
        try:
            return values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise BodyError(f"{name} is not valid UTF-8", name) from None

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        text = raw.strip()
        if not re.fullmatch(r"[0-9]{1,12}", text) or not low <= int(text) <= high:
            raise BodyError(
                f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}", name
            )
        return int(text)

    @property
    def root_dir(self) -> str:
        """The Jupyter server's root_dir: notebook paths are confined to it."""
        return str(self.settings["server_root_dir"])

    def json_body(self, allowed: dict[str, tuple[type, ...]],
                  required: tuple[str, ...] = ()) -> dict[str, Any]:
        """The request body as a JSON object whose fields have the allowed types.

        ``allowed`` maps each field to the Python types its JSON value may have (``bool`` is
        never taken for a number). Absent fields are left out of the result.
        """
        ctype = self.request.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise BodyError(
                f"the body must be JSON with Content-Type: application/json, got "
                f"{ctype[:80]!r}" if ctype else
                "the body must be JSON with Content-Type: application/json (none was given)")
        try:
            body = json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError) as e:
            raise BodyError(f"the body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise BodyError(f"the body must be a JSON object, got {type(body).__name__}")
        for name, value in body.items():
            if name not in allowed:
                raise BodyError(
                    f"unknown field {name[:80]!r}; the fields are: {', '.join(allowed)}", name)
            types = allowed[name]
            numeric = any(t in (int, float) for t in types)
            if not isinstance(value, types) or (numeric and isinstance(value, bool)
                                                and bool not in types):
                expected = " or ".join(_JSON_TYPE.get(t, t.__name__) for t in types)
                raise BodyError(f"field {name!r} must be {expected}, got "
                                f"{_JSON_TYPE.get(type(value), type(value).__name__)}", name)
        for name in required:
            if body.get(name) is None:
                raise BodyError(f"field {name!r} is required", name)
        return body

    def job_id(self, raw: str) -> str:
        if not JOB_ID.fullmatch(raw):
            raise InvalidInput(
                f"{raw[:80]!r} is not a job id: job ids are 1 to 200 letters, digits, '.', "
                "'_' or '-', not starting with '.'"
            )
        return raw

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
            body = error_body(error)
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
