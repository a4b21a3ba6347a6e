"""The activator gives a Service's concurrency slot back however a proxied response
ends, including an upstream that stalls or dies mid-body."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from localplatform.embedded.procs import free_port
from localplatform.runtime.ingress import Activator


@dataclass
class Spec:
    name: str = "stub"
    timeout_seconds: int = 1


@dataclass
class StubService:
    """What the activator needs of a ServiceProcess, around a real upstream server."""

    port: int
    spec: Spec = field(default_factory=Spec)
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    in_flight: int = 0
    requests: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ensure_running(self) -> None:
        return None

    def touch(self) -> None:
        return None


async def stalls(_: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        await asyncio.sleep(30)  # longer than the Service's timeout
        yield b"data: never\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


async def ok(_: Request) -> Response:
    return Response(b"fine")


@contextlib.asynccontextmanager
async def edge_to(upstream: Starlette) -> AsyncIterator[tuple[httpx.AsyncClient, StubService]]:
    """``upstream`` served over real HTTP, reached through an Activator in front of it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(upstream, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    svc = StubService(port)
    activator = Activator()

    async def edge(request: Request) -> Response:
        return await activator.forward(svc, request)  # type: ignore[arg-type]

    front = Starlette(routes=[Route("/{path:path}", edge)])
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=front), base_url="http://edge", timeout=10
        ) as client:
            yield client, svc
    finally:
        await activator.close()
        server.should_exit = True
        await task


async def test_slots_come_back_after_upstream_stalls_mid_body() -> None:
    upstream = Starlette(routes=[Route("/stall", stalls), Route("/ok", ok)])
    async with edge_to(upstream) as (client, svc):
        for _ in range(3):  # more stalled requests than there are slots
            with contextlib.suppress(httpx.HTTPError):
                await client.get("/stall")
        assert svc.in_flight == 0
        response = await asyncio.wait_for(client.get("/ok"), 5)
        assert response.text == "fine"
        assert svc.in_flight == 0


async def test_the_path_is_forwarded_as_the_client_sent_it() -> None:
    async def echo(request: Request) -> Response:
        return Response(request.scope["raw_path"])

    async with edge_to(Starlette(routes=[Route("/{path:path}", echo)])) as (client, _svc):
        response = await client.get("/api/bots/a%2Fb/documents?x=1")
    assert response.text == "/api/bots/a%2Fb/documents"
