"""URL patterns, relative to the server's base_url (the extension app prepends it)."""

from __future__ import annotations

from typing import Any

from .handlers.datasets import DatasetsHandler, DatasetVersionHandler, DatasetVersionsHandler
from .handlers.events import EventsHandler
from .handlers.health import HealthHandler
from .handlers.jobs import (
    JobHandler,
    JobLogsHandler,
    JobsHandler,
    NotebookParametersHandler,
    SweepPreviewHandler,
)
from .handlers.report import RunReportHandler
from .handlers.runs import (
    ArtifactHandler,
    RunHandler,
    RunMetricsHandler,
    RunRerunHandler,
    RunsHandler,
)

API = "/dlbench/api"

# Ids are validated in the handlers, so a malformed one gets a JSON 400 naming the rule
# instead of the server's HTML 404 page.
_RUN = r"(?P<run_id>[^/]+)"
_JOB = r"(?P<job_id>[^/]+)"
_DATASET = r"(?P<name>[^/]+)"


def handlers() -> list[tuple[str, Any]]:
    return [
        (f"{API}/health", HealthHandler),
        (f"{API}/runs", RunsHandler),
        (f"{API}/runs/{_RUN}", RunHandler),
        (f"{API}/runs/{_RUN}/metrics", RunMetricsHandler),
        (f"{API}/runs/{_RUN}/report", RunReportHandler),
        (f"{API}/runs/{_RUN}/rerun", RunRerunHandler),
        # the artifact path keeps its slashes; the handler checks it
        (f"{API}/runs/{_RUN}/artifacts/(?P<path>.+)", ArtifactHandler),
        (f"{API}/jobs", JobsHandler),
        (f"{API}/jobs/sweep-preview", SweepPreviewHandler),  # before jobs/{job_id}
        (f"{API}/jobs/{_JOB}", JobHandler),
        (f"{API}/jobs/{_JOB}/logs", JobLogsHandler),
        (f"{API}/datasets", DatasetsHandler),
        (f"{API}/datasets/{_DATASET}/versions", DatasetVersionsHandler),
        (f"{API}/datasets/{_DATASET}/versions/(?P<version>[^/]+)", DatasetVersionHandler),
        (f"{API}/notebook-parameters", NotebookParametersHandler),
        (f"{API}/events", EventsHandler),
    ]
