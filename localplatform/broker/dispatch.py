"""Delivery of one event to one Trigger's subscriber, as Knative's dispatcher does it.

Binary-mode POST; retries on 5xx, 404, 408, 409, 429 and connection failures with the
delivery spec's backoff; then the dead-letter sink, with ``knativeerrordest``,
``knativeerrorcode`` and ``knativeerrordata``. Other 4xx go to the dead-letter sink at
once (retrying cannot fix them). A 2xx reply that carries an event goes back into the
broker.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

from localplatform.broker.model import RETRYABLE, TriggerSpec
from shared.events.cloudevent import BadEvent, CloudEvent, parse_http, to_binary

log = logging.getLogger("protostar.broker")

MAX_ERROR_DATA = 1024
Publish = Callable[[str, CloudEvent], Awaitable[None]]


@dataclass
class Stats:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    replies: int = 0
    failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def record_latency(self, event: CloudEvent) -> None:
        enqueued = event.attributes.get("protostarenqueued")
        if enqueued:
            self.latencies_ms.append((time.time() - float(enqueued)) * 1000)
            if len(self.latencies_ms) > 10000:
                del self.latencies_ms[:5000]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _retryable(status: int) -> bool:
    return status == 0 or status >= 500 or status in RETRYABLE


class Dispatcher:
    def __init__(self, publish: Publish) -> None:
        self.publish = publish
        self._session: aiohttp.ClientSession | None = None
        self.stats: dict[str, Stats] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=0),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _stats(self, trigger: TriggerSpec) -> Stats:
        return self.stats.setdefault(trigger.name, Stats())

    async def _post(
        self, url: str, event: CloudEvent, limit_s: float
    ) -> tuple[int, Reply | None, str]:
        headers, body = to_binary(event.with_attributes(protostarenqueued=None))
        headers["prefer"] = "reply"
        if "traceparent" in event.attributes:
            headers["traceparent"] = event.attributes["traceparent"]
        try:
            async with self.session.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=limit_s),
            ) as response:
                content = await response.read()
                reply = Reply(
                    response.status, {k.lower(): v for k, v in response.headers.items()}, content
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, None, f"{exc.__class__.__name__}: {exc}"
        return reply.status, reply, ""

    async def deliver(self, trigger: TriggerSpec, event: CloudEvent) -> None:
        """Deliver with retries, then dead-letter. Raises only if nothing took the event."""
        stats = self._stats(trigger)
        spec = trigger.delivery
        retries = 0
        while True:
            status, response, error = await self._post(trigger.subscriber_url, event, spec.timeout)
            if 200 <= status < 300:
                stats.delivered += 1
                stats.record_latency(event)
                if response is not None:
                    try:
                        await self._reply(trigger, response)
                    except BadEvent as exc:
                        # The reply breaks its schema: retrying the original would only
                        # repeat it. Dead-letter the original with the reason.
                        await self._dead_letter(trigger, event, 502, exc.message.encode())
                return
            if _retryable(status) and retries < spec.retry:
                retries += 1
                stats.retried += 1
                await asyncio.sleep(spec.backoff(retries))
                continue
            body = response.body if response is not None else error.encode()
            await self._dead_letter(trigger, event, status, body)
            return

    async def _reply(self, trigger: TriggerSpec, response: Reply) -> None:
        has_event = any(k.startswith("ce-") for k in response.headers) or (
            response.headers.get("content-type", "").startswith("application/cloudevents+json")
        )
        if not has_event:
            return
        try:
            reply = parse_http(response.headers, response.body)
        except BadEvent as exc:
            log.warning(
                "subscriber replied with a malformed event; ignored",
                extra={"trigger": trigger.name, "reason": exc.message},
            )
            return
        self._stats(trigger).replies += 1
        await self.publish(trigger.broker, reply)

    async def _dead_letter(
        self, trigger: TriggerSpec, event: CloudEvent, status: int, body: bytes
    ) -> None:
        stats = self._stats(trigger)
        sink = trigger.delivery.dead_letter_url
        if sink is None:
            stats.failures += 1
            log.error(
                "event dropped: delivery failed and no dead-letter sink",
                extra={
                    "trigger": trigger.name,
                    "event_id": event.id,
                    "event_type": event.type,
                    "status": status,
                },
            )
            return
        failed = event.with_attributes(
            protostarenqueued=None,
            knativeerrordest=trigger.subscriber_url,
            knativeerrorcode=str(status),
            knativeerrordata=base64.b64encode(body[:MAX_ERROR_DATA]).decode(),
        )
        spec = trigger.delivery
        for attempt in range(spec.retry + 1):
            code, _, _ = await self._post(sink, failed, spec.timeout)
            if 200 <= code < 300:
                stats.dead_lettered += 1
                log.warning(
                    "event dead-lettered",
                    extra={
                        "trigger": trigger.name,
                        "event_id": event.id,
                        "event_type": event.type,
                        "status": status,
                    },
                )
                return
            await asyncio.sleep(spec.backoff(attempt + 1))
        stats.failures += 1
        raise RuntimeError(f"dead-letter sink {sink} refused event {event.id}")
