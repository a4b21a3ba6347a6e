"""The runtime's HTTP front: the public routes, one activator address per Service (what
Triggers and PingSources deliver to) and the broker ingress, all on one server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
import yarl
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from localplatform.runtime.services import ServiceProcess
from localplatform.runtime.topology import Topology
from shared.errors import ServiceUnavailable
from shared.http import error_response

log = logging.getLogger("protostar.runtime")

# We are the edge: what a client claims about forwarding is dropped, then set by us.
FORWARDING = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip"}
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


def proxy_session() -> aiohttp.ClientSession:
    """A client for relaying: no pool limit, no headers of its own, bodies as they are."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        auto_decompress=False,
    )


class Activator:
    """Forwards a request to a Service's process, starting it first if needed.

    aiohttp, not httpx: this is the hot path, and httpx's pool slows down several-fold
    with tens of concurrent requests on one client.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = proxy_session()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def forward(self, svc: ServiceProcess, request: Request) -> Response:
        try:
            await svc.ensure_running()
        except ServiceUnavailable as exc:
            return error_response(503, "unavailable", exc.message)
        await svc.limit.acquire()
        svc.in_flight += 1
        svc.requests += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                svc.in_flight -= 1
                svc.limit.release()
                svc.touch()

        try:
            return await relay(
                self.session, svc.url, request, svc.spec.name, svc.spec.timeout_seconds, release
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            release()
            log.warning("upstream failed", extra={"service": svc.spec.name, "reason": str(exc)})
            return error_response(502, "bad_gateway", f"service {svc.spec.name} did not answer")
        except BaseException:
            release()
            raise


async def relay(
    session: aiohttp.ClientSession,
    base: str,
    request: Request,
    service: str,
    timeout: float,
    release: Callable[[], None],
) -> Response:
    """Send ``request`` to ``base`` (a Service's process) as the edge does: forwarding
    headers ours, hop-by-hop ones dropped, the body streamed both ways; ``release``
    runs once when the response is done, however it ends. aiohttp's errors before the
    response headers are the caller's to answer."""
    # Content-Length is kept: the body streams through unchanged, so it stays true,
    # and functions may insist on it (uploads).
    headers = [
        (k, v)
        for k, v in request.headers.items()
        if (k.lower() not in HOP_BY_HOP or k.lower() == "content-length")
        and k.lower() not in FORWARDING
    ]
    client_host = request.client.host if request.client else "127.0.0.1"
    headers.append(("x-forwarded-for", client_host))
    headers.append(("x-forwarded-proto", request.url.scheme))
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    # The path as the client sent it (still percent-encoded): decoding it here would
    # turn %2F into a separator the function never saw.
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    target = base + raw_path.decode("latin-1")
    if request.url.query:
        target += "?" + request.url.query
    response = await session.request(
        request.method,
        yarl.URL(target, encoded=True),
        headers=headers,
        data=request.stream() if has_body else None,
        allow_redirects=False,
        timeout=aiohttp.ClientTimeout(total=float(timeout), connect=5.0),
    )

    async def body() -> AsyncIterator[bytes]:
        # The slot is given back however the stream ends: done, upstream failure or
        # timeout mid-body, or the client going away (the generator is closed).
        try:
            async for piece in response.content.iter_any():
                yield piece
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Headers are out already: all that is left is to end the body early.
            log.warning(
                "upstream failed mid-response", extra={"service": service, "reason": repr(exc)}
            )
        finally:
            response.release()
            release()

    out_headers = [
        (k, v)
        for k, v in response.headers.items()
        if k.lower() not in HOP_BY_HOP or k.lower() == "content-length"
    ]
    streaming = StreamingResponse(
        body(), status_code=response.status, background=BackgroundTask(release)
    )
    streaming.raw_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in out_headers
    ]
    return streaming


class Front:
    """One ASGI app for every socket; the local port says which role a request is for."""

    def __init__(
        self,
        topology: Topology,
        services: Mapping[str, ServiceProcess],
        activator: Activator,
        *,
        public_port: int,
        broker_port: int,
        broker_app: ASGIApp,
        admin_port: int | None = None,
    ) -> None:
        self.topology = topology
        self.services = services
        self.activator = activator
        self.public_port = public_port
        # With an admin port (served by runtime.edge) this port serves the public
        # listener's routes alone; without, both (public first).
        self.listener = "public" if admin_port else None
        self.broker_port = broker_port
        self.broker_app = broker_app
        self.by_port = {svc.activator_port: svc for svc in services.values()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        port = (scope.get("server") or ("", 0))[1]
        if port == self.broker_port:
            await self.broker_app(scope, receive, send)
            return
        request = Request(scope, receive)
        svc = self.by_port.get(port)
        if svc is None:
            route = self.topology.route(request.url.path, self.listener)
            if route is None:
                await error_response(404, "not_found", f"no route for {request.url.path}")(
                    scope, receive, send
                )
                return
            svc = self.services[route.service]
        response = await self.activator.forward(svc, request)
        await response(scope, receive, send)
