"""Broker backend on RabbitMQ, laid out as eventing-rabbitmq does.

One durable headers exchange per Broker; one durable (quorum) queue per Trigger, bound
with ``x-match: all`` on the Trigger's filter attributes, so RabbitMQ itself does the
fan-out and the filtering. CloudEvent attributes travel as message headers, the data as
the body. Publishing waits for the publisher confirm before the ingress answers 202;
a message is acked only after it was delivered or dead-lettered, so a crash or a broker
restart redelivers instead of losing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)

from localplatform.broker.backend import Backend, Handler
from localplatform.broker.model import TriggerSpec
from shared.events.cloudevent import CloudEvent

_ATTRIBUTE = re.compile(r"[a-z0-9]{1,40}")  # as check_attributes accepts them

log = logging.getLogger("protostar.broker")


def exchange_name(namespace: str, broker: str) -> str:
    return f"b.{namespace}.{broker}"


class RabbitMQBackend(Backend):
    def __init__(
        self, url: str, *, namespace: str = "protostar", queue_type: str = "quorum"
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.queue_type = queue_type
        self._conn: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._exchanges: dict[str, AbstractRobustExchange] = {}
        self._publish_lock = asyncio.Lock()

    async def start(self, triggers: Sequence[TriggerSpec]) -> None:
        self._conn = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": "protostar-broker"}
        )
        self._publish_channel = await self._conn.channel(publisher_confirms=True)
        brokers = {t.broker for t in triggers}
        for broker in brokers:
            await self._exchange(broker)
        setup = await self._conn.channel()
        for t in triggers:
            exchange = await setup.declare_exchange(
                exchange_name(t.namespace, t.broker), aio_pika.ExchangeType.HEADERS, durable=True
            )
            queue = await setup.declare_queue(
                t.queue, durable=True, arguments={"x-queue-type": self.queue_type}
            )
            await queue.bind(
                exchange, routing_key="", arguments={"x-match": "all", **dict(t.filters)}
            )
        await setup.close()

    async def _exchange(self, broker: str) -> AbstractRobustExchange:
        exchange = self._exchanges.get(broker)
        if exchange is None:
            assert self._publish_channel is not None
            exchange = await self._publish_channel.declare_exchange(
                exchange_name(self.namespace, broker), aio_pika.ExchangeType.HEADERS, durable=True
            )
            self._exchanges[broker] = exchange
        return exchange

    async def publish(self, broker: str, event: CloudEvent) -> None:
        exchange = await self._exchange(broker)
        message = aio_pika.Message(
            body=event.data or b"",
            headers=dict(event.attributes),
            content_type=event.datacontenttype,
            message_id=event.id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        # Returns once RabbitMQ confirmed the message (publisher confirms).
        await exchange.publish(message, routing_key="", timeout=10)

    async def consume(self, trigger: TriggerSpec, handler: Handler) -> None:
        assert self._conn is not None
        channel = await self._conn.channel()
        await channel.set_qos(prefetch_count=max(1, trigger.parallelism))
        queue = await channel.declare_queue(
            trigger.queue, durable=True, arguments={"x-queue-type": self.queue_type}
        )

        async def on_message(message: AbstractIncomingMessage) -> None:
            event = _to_event(message)
            try:
                await handler(event)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await message.nack(requeue=True)
                raise
            except Exception:
                log.exception(
                    "delivery failed; event requeued",
                    extra={"trigger": trigger.name, "event_id": event.id},
                )
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    await message.nack(requeue=True)
                return
            try:
                await message.ack()
            except Exception:
                log.warning(
                    "ack lost; the event will be redelivered",
                    extra={"trigger": trigger.name, "event_id": event.id},
                )

        tag = await queue.consume(on_message)
        try:
            await asyncio.Future()  # until cancelled
        finally:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
            with contextlib.suppress(Exception):
                await channel.close()

    async def depth(self, trigger: TriggerSpec) -> int:
        assert self._conn is not None
        channel = await self._conn.channel()
        try:
            queue = await channel.declare_queue(trigger.queue, passive=True)
            count = queue.declaration_result.message_count
            return int(count or 0)
        finally:
            await channel.close()

    async def delete(self, triggers: Sequence[TriggerSpec]) -> None:
        """Remove the queues and exchanges of ``triggers`` (tests, teardown)."""
        assert self._conn is not None
        channel = await self._conn.channel()
        for t in triggers:
            await channel.queue_delete(t.queue)
        for broker in {t.broker for t in triggers}:
            await channel.exchange_delete(exchange_name(self.namespace, broker))
        await channel.close()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def _to_event(message: AbstractIncomingMessage) -> CloudEvent:
    """The CloudEvent a message carries. Headers RabbitMQ adds itself (a quorum queue
    counts redeliveries in ``x-delivery-count``; ``x-death`` and friends) are not event
    attributes: CloudEvent attribute names are lower-case letters and digits only."""
    headers: dict[str, Any] = dict(message.headers or {})
    attrs = {
        str(k): v.decode() if isinstance(v, bytes) else str(v)
        for k, v in headers.items()
        if _ATTRIBUTE.fullmatch(str(k))
    }
    return CloudEvent(attrs, message.body if message.body else None)
