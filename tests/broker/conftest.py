"""Broker test kit: a recording subscriber over real HTTP and both broker backends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from localplatform.broker.backend import Backend
from localplatform.broker.broker import Broker
from localplatform.broker.model import TriggerSpec
from localplatform.broker.postgres import PostgresBackend
from localplatform.broker.rabbitmq import RabbitMQBackend
from shared.events.catalog import Catalog
from tests.conftest import Database
from tests.support.subscriber import Subscriber, running_subscriber

__all__ = ["BrokerFactory", "Subscriber"]


@pytest.fixture
async def subscriber() -> AsyncIterator[Subscriber]:
    async with running_subscriber() as sub:
        yield sub


@pytest.fixture(params=["postgres", "rabbitmq"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


BrokerFactory = Callable[[Sequence[TriggerSpec]], Awaitable[Broker]]


@pytest.fixture
async def make_broker(
    backend_kind: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[BrokerFactory]:
    """Build and start a Broker on the chosen backend; torn down after the test."""
    made: list[tuple[Broker, Sequence[TriggerSpec]]] = []
    namespace = f"test{uuid.uuid4().hex[:8]}"

    async def factory(triggers: Sequence[TriggerSpec]) -> Broker:
        triggers = [
            TriggerSpec(
                t.name, t.broker, t.subscriber_url, t.filters, t.delivery, t.parallelism, namespace
            )
            for t in triggers
        ]
        backend: Backend
        if backend_kind == "postgres":
            db: Database = request.getfixturevalue("pg")
            backend = PostgresBackend(db.app_url, namespace=namespace)
        else:
            url: str = request.getfixturevalue("rabbitmq_url")
            backend = RabbitMQBackend(url, namespace=namespace)
        broker = Broker(backend, triggers, namespace=namespace, catalog=Catalog({}))
        await broker.start()
        made.append((broker, triggers))
        return broker

    yield factory
    for broker, triggers in made:
        if isinstance(broker.backend, RabbitMQBackend):
            await broker.backend.delete(triggers)
        await broker.stop()
