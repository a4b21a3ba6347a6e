"""health: readiness of PostgreSQL, Redis and the object store (GET /healthz), and the
API's OpenAPI document (GET /api/openapi.json)."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.errors import NotFound
from shared.health import check_all
from shared.http import endpoint
from shared.logs import configure_logging
from shared.openapi import document
from shared.resources import get_resources

configure_logging("health")


@functions_framework.aio.http
@endpoint
async def health(request: Request) -> Response:
    if request.url.path == "/api/openapi.json":
        return JSONResponse(document(), headers={"Cache-Control": "max-age=300"})
    if request.url.path not in ("/", "/healthz", "/readyz"):
        raise NotFound(f"no route {request.url.path}")
    ok, report = await check_all(get_resources("health"))
    return JSONResponse(
        report, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"}
    )
