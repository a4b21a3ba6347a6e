"""A message RabbitMQ redelivers carries headers of its own (a quorum queue counts
redeliveries in ``x-delivery-count``); they must not become CloudEvent attributes, or
the redelivered event is refused by its subscriber (this lost events after a crash)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from localplatform.broker.rabbitmq import _to_event
from shared.events.cloudevent import check_attributes


def test_broker_headers_are_not_event_attributes() -> None:
    message: Any = SimpleNamespace(
        headers={
            "specversion": b"1.0",
            "id": b"e-1",
            "source": b"/test",
            "type": b"dev.protostar.document.ready",
            "traceparent": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "x-delivery-count": 1,
            "x-death": [{"count": 1}],
            "X-Custom": b"no",
        },
        body=b'{"a": 1}',
    )
    event = check_attributes(_to_event(message))
    assert set(event.attributes) == {"specversion", "id", "source", "type", "traceparent"}
    assert event.data == b'{"a": 1}'
