"""A Broker: its ingress (HTTP, 202 once durable), its backend, its Triggers' dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localplatform.broker.backend import Backend
from localplatform.broker.dispatch import Dispatcher
from localplatform.broker.model import TriggerSpec
from shared.errors import NotFound, ServiceUnavailable
from shared.events.catalog import Catalog, default_catalog
from shared.events.cloudevent import CloudEvent, parse_http
from shared.events.receive import read_body
from shared.http import endpoint

log = logging.getLogger("protostar.broker")


class Broker:
    def __init__(
        self,
        backend: Backend,
        triggers: Sequence[TriggerSpec],
        *,
        brokers: Sequence[str] = ("default",),
        namespace: str = "protostar",
        catalog: Catalog | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.backend = backend
        self.triggers = list(triggers)
        self.brokers = set(brokers) | {t.broker for t in triggers}
        self.namespace = namespace
        self.catalog = catalog or default_catalog()
        self.dispatcher = dispatcher or Dispatcher(self.publish)
        self._tasks: list[asyncio.Task[None]] = []
        self.accepted = 0

    async def start(self) -> None:
        await self.backend.start(self.triggers)
        for t in self.triggers:
            handler = functools.partial(self.dispatcher.deliver, t)
            self._tasks.append(
                asyncio.create_task(self.backend.consume(t, handler), name=f"trigger-{t.name}")
            )

    async def publish(self, broker: str, event: CloudEvent) -> None:
        if broker not in self.brokers:
            raise NotFound(f"no broker {broker!r} in namespace {self.namespace!r}")
        self.catalog.check_event(event, allow_unknown=True)
        stamped = event.with_attributes(protostarenqueued=f"{time.time():.6f}")
        try:
            await self.backend.publish(broker, stamped)
        except Exception as exc:
            log.warning(
                "broker could not store an event", extra={"event_id": event.id, "reason": str(exc)}
            )
            raise ServiceUnavailable("the broker could not store the event; retry") from exc
        self.accepted += 1

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.dispatcher.close()
        await self.backend.close()

    def asgi(self) -> Starlette:
        """The ingress: ``POST /<namespace>/<broker>`` answers 202 once stored durably."""

        @endpoint
        async def ingress(request: Request) -> Response:
            if request.path_params["namespace"] != self.namespace:
                raise NotFound(f"no namespace {request.path_params['namespace']!r}")
            if request.method != "POST":
                return Response(status_code=405, headers={"allow": "POST"})
            event = parse_http(request.headers, await read_body(request))
            await self.publish(request.path_params["broker"], event)
            return Response(status_code=202)

        return Starlette(
            routes=[
                Route("/{namespace}/{broker}", ingress, methods=["POST", "GET", "PUT", "DELETE"])
            ]
        )
