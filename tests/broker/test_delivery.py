"""Broker semantics on BOTH backends (PostgreSQL and RabbitMQ): filters, retries, backoff,
dead letters, replies, FIFO, and the ingress's refusals."""

from __future__ import annotations

import asyncio
import base64
import itertools
import uuid

import httpx
import pytest
from starlette.responses import Response

from localplatform.broker.model import DeliverySpec, TriggerSpec
from shared.events.cloudevent import CloudEvent, new_event, to_binary
from tests.broker.conftest import BrokerFactory, Subscriber


def ev(
    type_: str = "dev.test.thing.happened",
    source: str = "/test",
    **data: object,
) -> CloudEvent:
    return new_event(type_, source, data or {"n": 1})


async def test_filters_match_exactly(make_broker: BrokerFactory, subscriber: Subscriber) -> None:
    broker = await make_broker(
        [
            TriggerSpec(
                "by-type", "default", subscriber.url("a"), {"type": "dev.test.order.placed"}
            ),
            TriggerSpec(
                "by-type-and-source",
                "default",
                subscriber.url("b"),
                {"type": "dev.test.order.placed", "source": "/shop/eu"},
            ),
            TriggerSpec("everything", "default", subscriber.url("c")),
        ]
    )
    events = [
        ev("dev.test.order.placed", "/shop/eu"),
        ev("dev.test.order.placed", "/shop/us"),
        ev("dev.test.order.placedX", "/shop/eu"),  # no prefix matching
        ev("dev.test.order.cancelled", "/shop/eu"),
    ]
    for e in events:
        await broker.publish("default", e)
    await subscriber.wait_for("c", 4)
    await subscriber.wait_for("a", 2)
    await subscriber.wait_for("b", 1)
    await asyncio.sleep(0.3)
    assert sorted(subscriber.ids("a")) == sorted([events[0].id, events[1].id])
    assert subscriber.ids("b") == [events[0].id]
    assert sorted(subscriber.ids("c")) == sorted(e.id for e in events)


async def test_delivery_is_binary_mode_with_same_attributes_and_data(
    make_broker: BrokerFactory, subscriber: Subscriber
) -> None:
    broker = await make_broker([TriggerSpec("t", "default", subscriber.url("x"))])
    sent = new_event(
        "dev.test.greeting.sent",
        "/greeter",
        {"text": "안녕하세요 🌎"},
        subject="s-1",
        extensions={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )
    await broker.publish("default", sent)
    (got,) = await subscriber.wait_for("x", 1)
    assert dict(got.event.attributes) == dict(sent.attributes)
    assert got.event.json() == {"text": "안녕하세요 🌎"}
    assert got.headers["ce-id"] == sent.id
    assert got.headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736")
    assert "protostarenqueued" not in got.event.attributes


async def test_retries_then_dead_letter_with_error_extensions(
    make_broker: BrokerFactory, subscriber: Subscriber
) -> None:
    subscriber.behaviours["flaky"] = lambda *_: Response(b"db is down", status_code=503)
    delivery = DeliverySpec(
        retry=3, backoff_policy="linear", backoff_delay=0.02, dead_letter_url=subscriber.url("dlq")
    )
    broker = await make_broker(
        [TriggerSpec("t", "default", subscriber.url("flaky"), delivery=delivery)]
    )
    sent = ev()
    await broker.publish("default", sent)
    (dead,) = await subscriber.wait_for("dlq", 1)
    assert len(subscriber.at("flaky")) == 4  # the first attempt and 3 retries
    attrs = dead.event.attributes
    assert dead.event.id == sent.id
    assert attrs["knativeerrordest"] == subscriber.url("flaky")
    assert attrs["knativeerrorcode"] == "503"
    assert base64.b64decode(attrs["knativeerrordata"]) == b"db is down"
    assert dead.event.json() == sent.json()


@pytest.mark.parametrize("status", [400, 401, 403, 413, 422])
async def test_non_retryable_status_goes_to_dead_letter_at_once(
    make_broker: BrokerFactory, subscriber: Subscriber, status: int
) -> None:
    subscriber.behaviours["strict"] = lambda *_: Response(status_code=status)
    delivery = DeliverySpec(retry=5, backoff_delay=0.01, dead_letter_url=subscriber.url("dlq"))
    broker = await make_broker(
        [TriggerSpec("t", "default", subscriber.url("strict"), delivery=delivery)]
    )
    await broker.publish("default", ev())
    (dead,) = await subscriber.wait_for("dlq", 1)
    assert dead.event.attributes["knativeerrorcode"] == str(status)
    assert len(subscriber.at("strict")) == 1


@pytest.mark.parametrize("status", [404, 408, 409, 429, 500])
async def test_retryable_statuses_are_retried(
    make_broker: BrokerFactory, subscriber: Subscriber, status: int
) -> None:
    subscriber.behaviours["s"] = lambda _p, _e, n: Response(status_code=status if n < 3 else 200)
    delivery = DeliverySpec(retry=5, backoff_delay=0.01, dead_letter_url=subscriber.url("dlq"))
    broker = await make_broker(
        [TriggerSpec("t", "default", subscriber.url("s"), delivery=delivery)]
    )
    await broker.publish("default", ev())
    await subscriber.wait_for("s", 3)
    await asyncio.sleep(0.2)
    assert len(subscriber.at("s")) == 3
    assert subscriber.at("dlq") == []


@pytest.mark.parametrize(
    ("policy", "factors"), [("exponential", [1, 2, 4, 8]), ("linear", [1, 2, 3, 4])]
)
async def test_backoff_grows_by_policy(
    make_broker: BrokerFactory, subscriber: Subscriber, policy: str, factors: list[int]
) -> None:
    subscriber.behaviours["down"] = lambda *_: Response(status_code=500)
    base = 0.05
    delivery = DeliverySpec(
        retry=4,
        backoff_policy=policy,
        backoff_delay=base,  # type: ignore[arg-type]
        dead_letter_url=subscriber.url("dlq"),
    )
    broker = await make_broker(
        [TriggerSpec("t", "default", subscriber.url("down"), delivery=delivery)]
    )
    await broker.publish("default", ev())
    await subscriber.wait_for("dlq", 1)
    times = [r.at for r in subscriber.at("down")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 4
    for gap, factor in zip(gaps, factors, strict=True):
        assert gap >= base * factor * 0.9, (gaps, factors)
    assert gaps == sorted(gaps) if policy == "exponential" else True


async def test_reply_event_goes_back_into_the_broker(
    make_broker: BrokerFactory, subscriber: Subscriber
) -> None:
    def reply(_path: str, event: CloudEvent, _n: int) -> Response:
        answer = new_event("dev.test.order.confirmed", "/confirmer", {"of": event.id})
        headers, body = to_binary(answer)
        return Response(body, status_code=200, headers=headers)

    subscriber.behaviours["confirm"] = reply
    broker = await make_broker(
        [
            TriggerSpec(
                "placed", "default", subscriber.url("confirm"), {"type": "dev.test.order.placed"}
            ),
            TriggerSpec(
                "confirmed",
                "default",
                subscriber.url("audit"),
                {"type": "dev.test.order.confirmed"},
            ),
        ]
    )
    placed = ev("dev.test.order.placed")
    await broker.publish("default", placed)
    (got,) = await subscriber.wait_for("audit", 1)
    assert got.event.json() == {"of": placed.id}
    assert got.event.source == "/confirmer"


async def test_parallelism_one_is_fifo(make_broker: BrokerFactory, subscriber: Subscriber) -> None:
    async def slow(*_: object) -> Response:
        await asyncio.sleep(0.002)
        return Response(status_code=200)

    subscriber.behaviours["fifo"] = slow
    broker = await make_broker([TriggerSpec("t", "default", subscriber.url("fifo"), parallelism=1)])
    sent = [ev(n=i) for i in range(60)]
    for e in sent:
        await broker.publish("default", e)
    await subscriber.wait_for("fifo", 60)
    assert subscriber.ids("fifo") == [e.id for e in sent]


async def test_parallelism_delivers_concurrently(
    make_broker: BrokerFactory, subscriber: Subscriber
) -> None:
    in_flight = 0
    peak = 0

    async def slow(*_: object) -> Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return Response(status_code=200)

    subscriber.behaviours["par"] = slow
    broker = await make_broker([TriggerSpec("t", "default", subscriber.url("par"), parallelism=8)])
    for i in range(32):
        await broker.publish("default", ev(n=i))
    await subscriber.wait_for("par", 32)
    assert peak > 1


async def test_no_matching_trigger_is_accepted_and_dropped(
    make_broker: BrokerFactory, subscriber: Subscriber
) -> None:
    broker = await make_broker(
        [TriggerSpec("t", "default", subscriber.url("x"), {"type": "dev.test.only.this"})]
    )
    await broker.publish("default", ev("dev.test.something.else"))
    await broker.publish("default", ev("dev.test.only.this"))
    await subscriber.wait_for("x", 1)
    await asyncio.sleep(0.2)
    assert len(subscriber.at("x")) == 1


# --- the ingress ------------------------------------------------------------------


async def _ingress_post(
    app: object, path: str, *, headers: dict[str, str], body: bytes
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://broker") as client:
        return await client.post(path, headers=headers, content=body)


async def test_ingress_accepts_202_and_delivers(
    make_broker: BrokerFactory, subscriber: Subscriber
) -> None:
    broker = await make_broker([TriggerSpec("t", "default", subscriber.url("x"))])
    headers, body = to_binary(ev())
    response = await _ingress_post(
        broker.asgi(), f"/{broker.namespace}/default", headers=headers, body=body
    )
    assert response.status_code == 202
    await subscriber.wait_for("x", 1)


GOOD = {
    "ce-specversion": "1.0",
    "ce-id": "1",
    "ce-source": "/s",
    "ce-type": "dev.test.a.b",
    "content-type": "application/json",
}


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({k: v for k, v in GOOD.items() if k != "ce-id"}, b"{}", "bad_event"),
        ({k: v for k, v in GOOD.items() if k != "ce-source"}, b"{}", "bad_event"),
        ({k: v for k, v in GOOD.items() if k != "ce-type"}, b"{}", "bad_event"),
        ({**GOOD, "ce-id": ""}, b"{}", "bad_event"),
        ({**GOOD, "ce-specversion": "0.3"}, b"{}", "bad_event"),
        ({**GOOD, "ce-specversion": "2.0"}, b"{}", "bad_event"),
        ({"content-type": "text/plain"}, b"hello", "bad_content_type"),
        ({"content-type": "application/cloudevents+json"}, b"{not json", "bad_event"),
        (
            {"content-type": "application/cloudevents+json"},
            b'{"specversion":"1.0","id":"1","source":"/s"}',
            "bad_event",
        ),
        ({"content-type": "application/cloudevents-batch+json"}, b"[]", "bad_event"),
        (GOOD, b"x" * (1024 * 1024 + 1), "event_too_large"),
    ],
)
async def test_ingress_refuses_malformed_events_with_400(
    make_broker: BrokerFactory,
    subscriber: Subscriber,
    headers: dict[str, str],
    body: bytes,
    code: str,
) -> None:
    broker = await make_broker([TriggerSpec("t", "default", subscriber.url("x"))])
    response = await _ingress_post(
        broker.asgi(), f"/{broker.namespace}/default", headers=headers, body=body
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    await asyncio.sleep(0.2)
    assert subscriber.received == []
    assert broker.accepted == 0


async def test_ingress_unknown_broker_is_404(
    make_broker: BrokerFactory, subscriber: Subscriber
) -> None:
    broker = await make_broker([TriggerSpec("t", "default", subscriber.url("x"))])
    headers, body = to_binary(ev())
    response = await _ingress_post(
        broker.asgi(), f"/{broker.namespace}/nope", headers=headers, body=body
    )
    assert response.status_code == 404


async def test_consumer_stays_idempotent_under_redelivery(
    make_broker: BrokerFactory, subscriber: Subscriber, request: pytest.FixtureRequest
) -> None:
    """A consumer applies its effect, then its reply is lost (503): the broker redelivers,
    and the (consumer, source, id) claim made in the effect's transaction makes the second
    delivery a no-op."""
    import psycopg

    from shared.db.pool import open_pool
    from shared.events.consume import first_delivery

    db = request.getfixturevalue("pg")
    with psycopg.connect(db.owner_url, autocommit=True) as owner:
        owner.execute("CREATE TABLE IF NOT EXISTS redelivery_effects (event_id text)")
        owner.execute(f"GRANT SELECT, INSERT ON redelivery_effects TO {db.roles.app}")
    pool = await open_pool(db.app_url, name="redelivery", min_size=1, max_size=4)
    consumer = f"redelivery-{uuid.uuid4().hex[:6]}"

    async def effect_then_lose_reply(_path: str, event: CloudEvent, attempt: int) -> Response:
        async with pool.connection() as conn, conn.transaction():
            if await first_delivery(conn, consumer, event):
                await conn.execute("INSERT INTO redelivery_effects VALUES (%s)", (event.id,))
        return Response(status_code=503 if attempt == 1 else 200)

    subscriber.behaviours["effect"] = effect_then_lose_reply
    delivery = DeliverySpec(retry=3, backoff_delay=0.02, dead_letter_url=subscriber.url("dlq"))
    broker = await make_broker(
        [TriggerSpec("t", "default", subscriber.url("effect"), delivery=delivery)]
    )
    sent = ev()
    await broker.publish("default", sent)
    await subscriber.wait_for("effect", 2)
    await asyncio.sleep(0.2)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM redelivery_effects WHERE event_id = %s", (sent.id,)
            )
            assert await cur.fetchone() == (1,)
    finally:
        await pool.close()
    assert len(subscriber.at("effect")) == 2
    assert subscriber.at("dlq") == []
