"""The OpenAPI document validates as 3.1 and matches every function's routes exactly."""

from __future__ import annotations

import importlib.util
import re

from openapi_spec_validator import validate

from shared.openapi import document
from tests.conftest import ROOT

# Routes served outside a Router (the health function answers these two itself).
EXTRA = {("GET", "/healthz"), ("GET", "/api/openapi.json")}


def _public_functions() -> set[str]:
    """Functions behind the public host (internal ones have no public API)."""
    from localplatform.manifests.load import load_manifests
    from localplatform.runtime.topology import build_topology

    topology = build_topology(load_manifests(ROOT / "knative" / "base"))
    # web serves pages and static files (/, /b/{bot}, /widget.js, ...), not the API.
    return {
        s.function
        for s in topology.services.values()
        if s.surface != "internal" and s.function != "web"
    }


def _routes() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    public = _public_functions()
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        if main.parent.name not in public:
            continue
        spec = importlib.util.spec_from_file_location(f"fn_{main.parent.name}", main)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        router = getattr(module, "router", None)
        if router is None:
            continue
        for method, pattern, _handler in router.routes:
            found.add((method, "/" + "/".join(pattern)))
    return found | EXTRA


def _documented() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document()["paths"].items() for method in item}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_route_is_documented_and_nothing_else() -> None:
    routes = {(m, _shape(p)) for m, p in _routes()}
    documented = {(m, _shape(p)) for m, p in _documented()}
    assert routes - documented == set(), "routes missing from shared/openapi.py"
    assert documented - routes == set(), "documented routes that no function serves"


async def test_served_by_the_health_function() -> None:
    import httpx
    from functions_framework.aio import create_asgi_app

    app = create_asgi_app("health", str(ROOT / "functions/health/main.py"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == document()
