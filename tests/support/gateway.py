"""The functions in-process behind the REAL public routes of knative/base (the HTTPRoute),
each function's real ASGI app created the way functions-framework does it."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from localplatform.manifests.load import load_manifests
from localplatform.runtime.topology import build_topology
from tests.conftest import ROOT


class Gateway:
    def __init__(self) -> None:
        self.topology = build_topology(load_manifests(ROOT / "knative" / "base"))
        self.apps: dict[str, ASGIApp] = {}

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
        await self.app(route.service)(scope, receive, send)
