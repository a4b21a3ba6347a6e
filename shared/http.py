"""HTTP plumbing shared by every HTTP function: JSON errors, trace context, logging."""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.errors import ProtostarError
from shared.logs import trace_id_from_traceparent, trace_id_var

if TYPE_CHECKING:
    from shared.api.operation import Operation

log = logging.getLogger("protostar.http")

Handler = Callable[[Request], Awaitable[Response]]


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _database_down(exc: Exception) -> bool:
    """A lost or refused database connection (imported late: not every function has one)."""
    import sys

    psycopg = sys.modules.get("psycopg")
    pool = sys.modules.get("psycopg_pool")
    return bool(
        (psycopg and isinstance(exc, psycopg.OperationalError))
        or (pool and isinstance(exc, pool.PoolTimeout))
    )


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
            return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)
        except HTTPException as exc:  # Starlette's own refusals (e.g. malformed multipart)
            status = exc.status_code
            code = "bad_request" if exc.status_code == 400 else "http_error"
            return error_response(exc.status_code, code, str(exc.detail))
        except Exception as exc:
            if _database_down(exc):
                status = 503
                log.warning("database unavailable", exc_info=True)
                return error_response(503, "unavailable", "the database is unavailable; retry")
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


Route = tuple[str, str, Handler]  # (method, path pattern with {name} segments, handler)


class Router:
    """Method + path routing inside one function (functions-framework gives us one
    entry point per Service). Patterns are literal segments and ``{name}`` segments.

    A route is an API operation (shared/api/operation.py: documented, its body typed) or,
    for what is not the JSON API (pages, preflights, internal endpoints), a plain
    ``(method, pattern, handler)``."""

    def __init__(self, routes: Sequence[Route | Operation]) -> None:
        self.operations = [r for r in routes if not isinstance(r, tuple)]
        plain = [r if isinstance(r, tuple) else (r.method, r.path, r) for r in routes]
        self.routes = [
            (method, pattern.strip("/").split("/"), handler) for method, pattern, handler in plain
        ]

    @staticmethod
    def _match(pattern: list[str], parts: list[str]) -> dict[str, str] | None:
        if len(pattern) != len(parts):
            return None
        params: dict[str, str] = {}
        for want, got in zip(pattern, parts, strict=True):
            if want.startswith("{") and want.endswith("}"):
                if not got:
                    return None
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params

    async def __call__(self, request: Request) -> Response:
        parts = request.url.path.strip("/").split("/")
        allowed: list[str] = []
        for method, pattern, handler in self.routes:
            params = self._match(pattern, parts)
            if params is None:
                continue
            if method != request.method and (method, request.method) != ("GET", "HEAD"):
                allowed.append(method)  # HEAD is a GET without its body (the server drops it)
                continue
            request.scope["path_params"] = params
            return await handler(request)
        if allowed:
            return JSONResponse(
                {
                    "error": {
                        "code": "method_not_allowed",
                        "message": f"{request.method} is not allowed here",
                    }
                },
                status_code=405,
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        return error_response(404, "not_found", f"no route {request.url.path}")


async def json_body(request: Request, *, limit: int = 64 * 1024) -> dict[str, Any]:
    """The request's JSON object body; BadRequest when it is not one (or too large)."""
    import json

    from shared.errors import BadRequest, PayloadTooLarge

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # never buffer more than the limit
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    content_type = request.headers.get("content-type", "")
    if body and "json" not in content_type:
        raise BadRequest(
            "send a JSON body (Content-Type: application/json)", code="unsupported_media_type"
        )
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the stack
        raise BadRequest("request body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    if _SURROGATE.search(body) and not _encodable(data):
        # "\udcff" is valid JSON but no text: PostgreSQL (UTF-8) would refuse it later.
        raise BadRequest(
            "request body holds a lone UTF-16 surrogate (\\ud800-\\udfff): not valid Unicode text",
            code="bad_text",
        )
    return data


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _encodable(data: object) -> bool:
    import json

    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def client_ip(request: Request) -> str:
    """The caller's address: the right-most X-Forwarded-For entry set by our own edge
    (the local ingress or the cluster gateway), else the socket peer."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else "unknown"


def bearer_token(request: Request) -> str:
    from shared.errors import Unauthorized

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "sign in first: send Authorization: Bearer <access_token>", code="missing_token"
        )
    return token.strip()
