"""The HTTP side of a CloudEvent function: parse strictly, validate against the catalog,
answer 400 for what retrying cannot fix, reply with an event when the handler returns one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import overload

from starlette.requests import Request
from starlette.responses import Response

from shared.events.catalog import Catalog, default_catalog
from shared.events.cloudevent import MAX_EVENT_BYTES, BadEvent, CloudEvent, parse_http, to_binary
from shared.http import endpoint

log = logging.getLogger("protostar.events")

EventHandler = Callable[[CloudEvent], Awaitable[CloudEvent | None]]


async def read_body(request: Request, limit: int = MAX_EVENT_BYTES) -> bytes:
    """The request body, refusing (400) as soon as it grows past ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadEvent(
            f"event body is {declared} bytes; the limit is {limit}", code="event_too_large"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadEvent(f"event body exceeds the limit of {limit} bytes", code="event_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


HttpHandler = Callable[[Request], Awaitable[Response]]


@overload
def cloudevent_endpoint(
    handler: EventHandler, *, catalog: Catalog | None = None, allow_unknown: bool = False
) -> HttpHandler: ...


@overload
def cloudevent_endpoint(
    handler: None = None, *, catalog: Catalog | None = None, allow_unknown: bool = False
) -> Callable[[EventHandler], HttpHandler]: ...


def cloudevent_endpoint(
    handler: EventHandler | None = None,
    *,
    catalog: Catalog | None = None,
    allow_unknown: bool = False,
) -> HttpHandler | Callable[[EventHandler], HttpHandler]:
    """Decorate ``async def handler(event) -> CloudEvent | None`` as an HTTP endpoint."""

    def wrap(fn: EventHandler) -> HttpHandler:
        @endpoint
        @functools.wraps(fn)
        async def http_handler(request: Request) -> Response:
            if request.method != "POST":
                return Response(status_code=405, headers={"allow": "POST"})
            event = parse_http(request.headers, await read_body(request))
            try:
                (catalog or default_catalog()).check_event(event, allow_unknown=allow_unknown)
            except BadEvent:
                log.warning("refused event", extra={"event_type": event.type, "event_id": event.id})
                raise
            reply = await fn(event)
            if reply is None:
                return Response(status_code=202)
            headers, body = to_binary(reply)
            return Response(body, status_code=200, headers=headers)

        return http_handler

    return wrap if handler is None else wrap(handler)
