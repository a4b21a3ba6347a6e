"""HTTP plumbing shared by every HTTP function: JSON errors, trace context, logging."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.errors import ProtostarError
from shared.logs import trace_id_from_traceparent, trace_id_var

log = logging.getLogger("protostar.http")

Handler = Callable[[Request], Awaitable[Response]]


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def endpoint(handler: Handler) -> Handler:
    """Wrap a handler: trace id from ``traceparent``, typed errors to JSON, one access log."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        token = trace_id_var.set(trace_id_from_traceparent(request.headers.get("traceparent")))
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status_code
            return response
        except ProtostarError as exc:
            status = exc.status
            return JSONResponse(exc.to_body(), status_code=exc.status)
        except Exception:
            log.exception("unhandled error")
            return error_response(500, "internal", "internal error")
        finally:
            extra: dict[str, Any] = {
                "method": request.method,
                "path": request.url.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            log.info("request", extra=extra)
            trace_id_var.reset(token)

    return wrapper
