"""health: readiness of PostgreSQL, Redis and the object store (GET /healthz), and the
API's OpenAPI document (GET /api/openapi.json, generated: see shared/api/openapi.py)."""

import functools

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.api.openapi import committed
from shared.api.operation import operations
from shared.health import HealthView, check_all
from shared.http import Router, endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("health")


async def readiness(request: Request) -> Response:
    ok, report = await check_all(get_resources("health"))
    return JSONResponse(
        report, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"}
    )


_document = functools.cache(committed)


async def openapi(request: Request) -> Response:
    return Response(
        _document(), media_type="application/json", headers={"Cache-Control": "max-age=300"}
    )


_op = operations("platform", public=True)
router = Router(
    [
        _op("GET", "/healthz", readiness, "Readiness of PostgreSQL, Redis and the object store",
            op_id="health", responses={200: HealthView, 503: HealthView}),
        _op("GET", "/api/openapi.json", openapi, "This document", op_id="openapi",
            responses={200: None},
            response_content={200: {"application/json": {"schema": {"type": "object"}}}}),
        ("GET", "/", readiness),  # the probes' paths (knative/base), not the public API
        ("GET", "/readyz", readiness),
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def health(request: Request) -> Response:
    return await router(request)
