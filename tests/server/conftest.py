"""Fixtures for the REST API: a Jupyter server with the extension, and a client that checks
every answer against server_ext/openapi.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import nbformat
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
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+",
                                     re.escape(t).replace(r"\{path\}", ".+")) + "$"), t)
            for t in self.doc["paths"]
        ]

    def template(self, path: str) -> str:
        matches = [t for rx, t in self.templates if rx.match(path)]
        assert matches, f"{path} is not documented in openapi.yaml"
        return min(matches, key=lambda t: t.count("{"))  # jobs/sweep-preview, not jobs/{id}

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
    """Requests to the test server; JSON answers are checked against openapi.yaml."""

    def __init__(self, jp_fetch: Any, openapi: OpenAPI, http: Any, base_url: str,
                 auth: dict[str, str]) -> None:
        self._fetch = jp_fetch
        self._openapi = openapi
        self._http = http
        self._base_url = base_url
        self._auth = auth

    async def fetch(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    headers: dict[str, str] | None = None, body: Any = None,
                    raw: bool = False) -> Any:
        """The tornado response, errors included. ``body`` other than bytes/str is sent as
        JSON. ``raw`` sends ``path`` exactly as given (no escaping), for encoded forms."""
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        if method in ("POST", "PUT", "PATCH") and body is None:
            body = b""
        try:
            if raw:
                url = f"{self._base_url.rstrip('/')}{path}"
                if params:
                    url += "?" + urlencode(params)
                return await self._http.fetch(url, method=method, body=body,
                                              headers={**self._auth, **(headers or {})})
            return await self._fetch(*path.strip("/").split("/"), method=method, params=params,
                                     headers=headers, body=body, allow_nonstandard_methods=True)
        except HTTPClientError as e:
            assert e.response is not None, e
            return e.response

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """``method path``; returns (status, body) after checking both against the OpenAPI
        file and that the body is strict JSON."""
        response = await self.fetch(method, path, **kwargs)
        assert response.headers["Content-Type"].startswith("application/json"), (
            response.code, response.headers, response.body[:300])
        body = _strict_json(response.body)
        self._openapi.check(method.lower(), path.split("?")[0], response.code, body)
        return response.code, body

    async def get(self, path: str, params: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return await self.call("GET", path, params=params, headers=headers)

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None
                   ) -> tuple[int, Any]:
        return await self.call("POST", path, body=body, headers=headers)

    async def delete(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return await self.call("DELETE", path, headers=headers)


@pytest.fixture
def api(jp_fetch: Any, openapi: OpenAPI, http_server_client: Any, jp_base_url: str,
        jp_auth_header: dict[str, str]) -> Client:
    return Client(jp_fetch, openapi, http_server_client, jp_base_url, jp_auth_header)


@pytest.fixture
def make_notebook(jp_root_dir: Path):
    """Write a notebook under the server's root_dir; returns its path relative to the root."""

    def make(rel: str, params: str | None, *cells: str) -> str:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        if params is not None:
            cell = nbformat.v4.new_code_cell(params)
            cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
        nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
        path = jp_root_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return rel

    return make


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


@pytest.fixture
def escape_links(jp_root_dir: Path, tmp_path: Path) -> Path:
    """A real notebook outside the root, and symlinks under the root that point at it."""
    outside = jp_root_dir.parent / "outside"
    outside.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("secret = 1")
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    nbformat.write(nb, outside / "secret.ipynb")
    (jp_root_dir / "link.ipynb").symlink_to(outside / "secret.ipynb")
    (jp_root_dir / "linkdir").symlink_to(outside, target_is_directory=True)
    (jp_root_dir / "nbs").mkdir(exist_ok=True)
    return outside / "secret.ipynb"
