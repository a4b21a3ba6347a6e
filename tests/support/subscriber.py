"""A recording CloudEvent subscriber over real HTTP (uvicorn), for broker and runtime tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localplatform.embedded.procs import free_port
from shared.events.cloudevent import CloudEvent, parse_http


@dataclass
class Received:
    path: str
    event: CloudEvent
    at: float
    headers: dict[str, str]


Behaviour = Callable[[str, CloudEvent, int], Awaitable[Response] | Response]


@dataclass
class Subscriber:
    """An HTTP server that records every CloudEvent it gets, per path."""

    port: int
    received: list[Received] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def ids(self, path: str) -> list[str]:
        return [r.event.id for r in self.at(path)]

    async def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.at(path)) >= count:
                return self.at(path)
            await asyncio.sleep(0.02)
        raise AssertionError(f"{path}: got {len(self.at(path))} of {count} events in time")

    async def handle(self, request: Request) -> Response:
        path = request.path_params["path"]
        event = parse_http(request.headers, await request.body())
        self.received.append(Received(path, event, time.monotonic(), dict(request.headers)))
        behaviour = self.behaviours.get(path)
        if behaviour is None:
            return Response(status_code=202)
        result = behaviour(path, event, len(self.at(path)))
        return await result if asyncio.iscoroutine(result) else result  # type: ignore[return-value]


@asynccontextmanager
async def running_subscriber() -> AsyncIterator[Subscriber]:
    sub = Subscriber(free_port())
    app = Starlette(routes=[Route("/{path:path}", sub.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=sub.port, log_level="error", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield sub
    finally:
        server.should_exit = True
        await task
