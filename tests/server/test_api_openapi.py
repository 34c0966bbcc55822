"""server_ext/openapi.yaml is a valid OpenAPI 3.1 document that covers every route."""

from __future__ import annotations

import re
from typing import Any

from jupyter_dlbench_server.routes import handlers
from openapi_spec_validator import validate


def test_openapi_file_is_valid_openapi_3_1(openapi: Any) -> None:
    assert openapi.doc["openapi"].startswith("3.1")
    validate(openapi.doc)


def test_every_route_is_documented_and_every_documented_path_routed(openapi: Any) -> None:
    routed = {re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern) for pattern, _ in handlers()}
    assert routed == set(openapi.doc["paths"])


def test_every_operation_documents_403(openapi: Any) -> None:
    for path, item in openapi.doc["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                assert "403" in item[method]["responses"], f"{method.upper()} {path}"
