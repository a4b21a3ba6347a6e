"""The functions in-process behind the REAL public routes of knative/base (the HTTPRoute),
each function's real ASGI app created the way functions-framework does it.

Every JSON response is checked against the OpenAPI document (tests/support/contract.py),
so each API test is also a test of the documented contract."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localplatform.manifests.load import load_manifests
from localplatform.runtime.topology import build_topology
from tests.conftest import ROOT
from tests.support import contract


class Gateway:
    def __init__(self, *, check_contract: bool = True) -> None:
        self.topology = build_topology(load_manifests(ROOT / "knative" / "base"))
        self.apps: dict[str, ASGIApp] = {}
        self.check_contract = check_contract

    def app(self, service: str) -> ASGIApp:
        if service not in self.apps:
            from functions_framework.aio import create_asgi_app

            spec = self.topology.services[service]
            self.apps[service] = create_asgi_app(spec.target, str(spec.source(ROOT)))
        return self.apps[service]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.topology.route(scope.get("path", ""))
        if route is None:
            response: Any = JSONResponse(
                {"error": {"code": "not_found", "message": "no route"}}, status_code=404
            )
            await response(scope, receive, send)
            return
        app = self.app(route.service)
        if not self.check_contract or scope["type"] != "http":
            await app(scope, receive, send)
            return
        status = 0
        content_type = ""
        chunks: list[bytes] = []

        async def recording(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    if key.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body" and not content_type.startswith(
                "text/event-stream"
            ):
                chunks.append(message.get("body", b""))
            await send(message)

        await app(scope, receive, recording)
        contract.check(scope["method"], scope["path"], status, content_type, b"".join(chunks))
