"""URL patterns, relative to the server's base_url (the extension app prepends it)."""

from __future__ import annotations

from typing import Any

from .handlers.health import HealthHandler
from .handlers.runs import RunHandler, RunMetricsHandler, RunsHandler

API = "/dlbench/api"

# Run ids are validated in the handler, so a malformed one gets a JSON 400 naming the rule
# instead of the server's HTML 404 page.
_RUN = r"(?P<run_id>[^/]+)"


def handlers() -> list[tuple[str, Any]]:
    return [
        (f"{API}/health", HealthHandler),
        (f"{API}/runs", RunsHandler),
        (f"{API}/runs/{_RUN}", RunHandler),
        (f"{API}/runs/{_RUN}/metrics", RunMetricsHandler),
    ]
