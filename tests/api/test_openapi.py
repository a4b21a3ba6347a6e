"""The OpenAPI document is generated from the operations of every public function, is
committed as generated, validates as OpenAPI 3.1, and is what the health function serves."""

from __future__ import annotations

import json

import httpx
import pytest
from functions_framework.aio import create_asgi_app
from openapi_spec_validator import validate

from localplatform import openapi as build
from shared.api import openapi
from shared.api.operation import Operation
from tests.conftest import ROOT


def test_the_committed_document_is_the_generated_one() -> None:
    assert openapi.committed().decode() == build.generate(), (
        "shared/api/openapi.json is stale: run ./scripts/task openapi"
    )


def test_document_is_valid_openapi_3_1() -> None:
    doc = json.loads(openapi.committed())
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_api_route_is_an_operation() -> None:
    """A route under /api (or the well-known JWKS) cannot be served undocumented: only
    pages, static files, probes and CORS preflights may be plain routes."""
    plain: list[str] = []
    for name in build.public_functions():
        router = build.load_router(name)
        if router is None:
            continue
        for method, pattern, handler in router.routes:
            path = "/" + "/".join(pattern)
            api = path.startswith(("/api/", "/.well-known/"))
            if api and not isinstance(handler, Operation):
                plain.append(f"{name}: {method} {path}")
    assert plain == []


def test_every_json_body_and_response_is_a_model() -> None:
    doc = json.loads(openapi.committed())
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("post", "patch", "put") and "requestBody" in op:
                content = op["requestBody"]["content"]
                assert (
                    "$ref" in content.get("application/json", {"schema": {"$ref": ""}})["schema"]
                ), (method, path)
            for status, response in op["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is not None and path != "/api/openapi.json":
                    assert "$ref" in schema, (method, path, status)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"email": "a@example.com", "password": 5}, "weak_password", "password"),
        ({"email": "not an email", "password": "x" * 12}, "invalid_email", "email"),
        ({"email": "a@example.com", "password": "x" * 12, "role": "x"}, "unknown_fields", "role"),
        ({"password": "x" * 12}, "invalid_email", "email"),
    ],
)
def test_a_refused_field_is_named_in_the_error(
    body: dict[str, object], code: str, field: str
) -> None:
    from shared.accounts.contracts import Signup
    from shared.errors import BadRequest

    with pytest.raises(BadRequest) as caught:
        Signup.parse(body)
    assert (caught.value.code, caught.value.details["field"]) == (code, field)


async def test_served_by_the_health_function() -> None:
    app = create_asgi_app("health", str(ROOT / "functions/health/main.py"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == json.loads(openapi.committed())
