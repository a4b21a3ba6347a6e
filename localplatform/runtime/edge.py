"""The admin port's own ingress: a process apart from the runtime's, as a cluster's
Gateway listener is apart from the functions.

With ``PROTOSTAR_ADMIN_PORT`` the runtime starts this process for the admin listener's
routes. It forwards to a Service's process directly and, when the process is not
running (starting, scaled to zero, crashed), through the Service's activator in the
runtime, which starts it. So a flood on the public port, which fills the runtime's one
event loop, does not queue the owners' requests behind it (``task bench -- --only
surfaces``). Its own limit per Service is the Service's ``containerConcurrency``.

    python -m localplatform.runtime.edge CONFIG.json
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from localplatform.runtime.ingress import proxy_session, relay
from localplatform.runtime.topology import Route
from shared.http import error_response

log = logging.getLogger("protostar.edge")


@dataclass
class Upstream:
    name: str
    direct: str  # the process
    activator: str  # the runtime's activator of the Service (starts it when needed)
    timeout: float
    limit: asyncio.Semaphore


class Edge:
    def __init__(self, routes: list[Route], upstreams: dict[str, Upstream]) -> None:
        self.routes = routes
        self.upstreams = upstreams
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = proxy_session()
        return self._session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        route = next((r for r in self.routes if r.matches(request.url.path)), None)
        if route is None:
            response: Response = error_response(
                404, "not_found", f"no route for {request.url.path}"
            )
        else:
            response = await self.forward(self.upstreams[route.service], request)
        await response(scope, receive, send)

    async def forward(self, up: Upstream, request: Request) -> Response:
        await up.limit.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                up.limit.release()

        try:
            try:
                return await relay(self.session, up.direct, request, up.name, up.timeout, release)
            except aiohttp.ClientConnectorError:
                # Not running: the activator starts it (and answers 503 if it cannot).
                return await relay(
                    self.session, up.activator, request, up.name, up.timeout, release
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            release()
            log.warning("upstream failed", extra={"service": up.name, "reason": str(exc)})
            return error_response(502, "bad_gateway", f"service {up.name} did not answer")
        except BaseException:
            release()
            raise


def config(routes: list[Route], services: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    """What the edge process needs: the admin routes and, per Service they name, its
    process and activator addresses, request timeout and concurrency."""
    return {
        "host": host,
        "port": port,
        "routes": [vars(r) for r in routes],
        "upstreams": {
            name: {
                "direct": svc.url,
                "activator": svc.address,
                "timeout": svc.spec.timeout_seconds,
                "concurrency": svc.spec.container_concurrency or 1000,
            }
            for name, svc in services.items()
            if any(r.service == name for r in routes)
        },
    }


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from shared.logs import configure_logging

    args = argv if argv is not None else sys.argv[1:]
    raw = json.loads(Path(args[0]).read_text())
    configure_logging("edge")
    routes = [Route(**r) for r in raw["routes"]]
    upstreams = {
        name: Upstream(
            name,
            u["direct"],
            u["activator"],
            float(u["timeout"]),
            asyncio.Semaphore(int(u["concurrency"])),
        )
        for name, u in raw["upstreams"].items()
    }
    uvicorn.run(
        Edge(routes, upstreams),
        host=raw["host"],
        port=int(raw["port"]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        server_header=False,
        proxy_headers=False,  # the edge: X-Forwarded-* from clients is untrusted
    )


if __name__ == "__main__":
    main()
