"""Fixtures for the REST API: a Jupyter server with the extension, and a client that checks
every answer against server_ext/openapi.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from jsonschema import Draft202012Validator

# pytest-jupyter's fixtures (jp_fetch, the async test runner) come from tests/conftest.py's
# pytest_plugins: pytest accepts pytest_plugins only in the top-level conftest.
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from tornado.httpclient import HTTPClientError

SPEC_PATH = Path(__file__).resolve().parents[2] / "server_ext" / "openapi.yaml"
_SPEC_URI = "urn:dlbench:openapi"


class OpenAPI:
    """Finds the documented response for (method, path, status) and validates a body."""

    def __init__(self, path: Path) -> None:
        self.doc = yaml.safe_load(path.read_text())
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(_SPEC_URI, resource)
        self.templates = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"), t)
            for t in self.doc["paths"]
        ]

    def template(self, path: str) -> str:
        matches = [t for rx, t in self.templates if rx.match(path)]
        assert matches, f"{path} is not documented in openapi.yaml"
        return matches[0]

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        template = self.template(path)
        responses = self.doc["paths"][template][method]["responses"]
        assert str(status) in responses, (
            f"{method.upper()} {template} -> {status} is not documented"
        )
        pointer = "/".join(
            p.replace("~", "~0").replace("/", "~1")
            for p in ("paths", template, method, "responses", str(status))
        )
        response = responses[str(status)]
        if "$ref" in response:  # a shared response under components/responses
            pointer = response["$ref"].lstrip("#/")
        schema = {"$ref": f"{_SPEC_URI}#/{quote(pointer)}/content/application~1json/schema"}
        validator = Draft202012Validator(
            schema, registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, (
            "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
            + f"\nin {method.upper()} {path} -> {status}"
        )


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI(SPEC_PATH)


def _strict_json(text: bytes) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"the body has the non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def jp_server_config(workspace_dir: Path) -> dict[str, Any]:
    # Depends on workspace_dir so DLBENCH_HOME is set before the server starts.
    return {
        "ServerApp": {
            # terminals off: not ours, and it warns about its own unauthenticated route
            "jpserver_extensions": {
                "jupyter_dlbench_server": True,
                "jupyter_server_terminals": False,
            },
            "allow_unauthenticated_access": False,
        }
    }


class Client:
    def __init__(self, jp_fetch: Any, openapi: OpenAPI) -> None:
        self._fetch = jp_fetch
        self._openapi = openapi

    async def get(
        self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """GET ``path`` (under base_url); returns (status, body) after checking both against
        the OpenAPI file and that the body is strict JSON."""
        try:
            response = await self._fetch(
                *path.strip("/").split("/"), params=params, headers=headers
            )
        except HTTPClientError as e:
            assert e.response is not None, e
            response = e.response
        assert response.headers["Content-Type"].startswith("application/json"), response.headers
        body = _strict_json(response.body)
        self._openapi.check("get", path, response.code, body)
        return response.code, body


@pytest.fixture
def api(jp_fetch: Any, openapi: OpenAPI) -> Client:
    return Client(jp_fetch, openapi)


@pytest.fixture
def make_run(workspace_dir: Path):
    """Create a finished run with ``dlb.init`` / ``log`` / ``finish``; returns its id."""
    import jupyter_dlbench as dlb

    def make(
        project: str = "digits",
        name: str | None = None,
        params: dict[str, Any] | None = None,
        history: list[dict[str, float]] | None = None,
    ) -> str:
        run = dlb.init(project=project, name=name, params=params)
        for step, values in enumerate(history or []):
            run.log(values, step=step)
        run.finish()
        return run.id

    return make
