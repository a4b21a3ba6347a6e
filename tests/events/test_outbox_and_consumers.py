"""Outbox (record with the change, send after commit, relay what was not accepted),
idempotent consumers, dead-letter keeping, and the consumer side's 400s."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.routing import Route

from shared.db.pool import open_pool
from shared.events import deadletters
from shared.events.catalog import default_catalog
from shared.events.cloudevent import BadEvent, CloudEvent, new_event, to_binary
from shared.events.consume import first_delivery
from shared.events.outbox import BrokerClient, record, send_pending
from shared.events.receive import cloudevent_endpoint
from tests.conftest import Database


@pytest.fixture
async def pool(pg: Database) -> AsyncIterator[AsyncConnectionPool]:
    p = await open_pool(pg.app_url, name="events-test", min_size=1, max_size=8)
    async with p.connection() as conn:
        await conn.execute("DELETE FROM outbox")
    yield p
    await p.close()


def ready_data() -> dict[str, object]:
    return {
        "document_id": str(uuid.uuid4()),
        "bot_id": str(uuid.uuid4()),
        "chunks": 4,
        "embedding_model": "all-MiniLM-L6-v2",
    }


class FakeBrokerIngress:
    """A broker ingress over real HTTP (ASGI transport) that can refuse."""

    def __init__(self) -> None:
        self.accepted: list[CloudEvent] = []
        self.refuse = False

        @cloudevent_endpoint(allow_unknown=True)
        async def ingress(event: CloudEvent) -> None:
            if self.refuse:
                from shared.errors import ServiceUnavailable

                raise ServiceUnavailable("broker down")
            self.accepted.append(event)

        self.app = Starlette(routes=[Route("/protostar/default", ingress, methods=["POST"])])

    def client(self) -> BrokerClient:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://broker"
        )
        return BrokerClient("http://broker/protostar/default", http)


async def test_record_is_part_of_the_producers_transaction(pool: AsyncConnectionPool) -> None:
    async def failed_change(conn: psycopg.AsyncConnection) -> None:
        async with conn.transaction():
            await record(conn, "dev.protostar.document.ready", "/embed", ready_data())
            raise RuntimeError("the domain change failed")

    async with pool.connection() as conn:
        with pytest.raises(RuntimeError):
            await failed_change(conn)
        async with conn.transaction():
            event = await record(conn, "dev.protostar.document.ready", "/embed", ready_data())
        cur = await conn.execute("SELECT event_id, sent_at FROM outbox")
        assert await cur.fetchall() == [(event.id, None)]


async def test_record_validates_data_and_stores_nothing_when_invalid(
    pool: AsyncConnectionPool,
) -> None:
    bad = {**ready_data(), "chunks": -1}
    async with pool.connection() as conn:
        with pytest.raises(BadEvent, match="chunks"):
            await record(conn, "dev.protostar.document.ready", "/embed", bad)
        with pytest.raises(BadEvent, match="not in the events catalog"):
            await record(conn, "dev.protostar.nothing.known", "/embed", {})
        cur = await conn.execute("SELECT count(*) FROM outbox")
        assert await cur.fetchone() == (0,)


async def test_send_after_commit_then_relay_resends_what_failed(pool: AsyncConnectionPool) -> None:
    ingress = FakeBrokerIngress()
    broker = ingress.client()
    async with pool.connection() as conn, conn.transaction():
        first = await record(
            conn, "dev.protostar.document.ready", "/embed", ready_data(), subject="doc-1"
        )
        second = await record(conn, "dev.protostar.document.ready", "/embed", ready_data())
    ingress.refuse = True
    assert await send_pending(pool, broker, event_ids=[first.id, second.id]) == 0
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT attempts, last_error IS NOT NULL FROM outbox WHERE event_id = %s", (first.id,)
        )
        assert await cur.fetchone() == (1, True)
    ingress.refuse = False
    assert await send_pending(pool, broker) == 2  # the relay's pass
    assert [e.id for e in ingress.accepted] == [first.id, second.id]
    assert ingress.accepted[0].attributes["subject"] == "doc-1"
    assert ingress.accepted[0].json() == first.json()
    assert ingress.accepted[0].attributes["traceparent"] == first.attributes["traceparent"]
    assert await send_pending(pool, broker) == 0  # nothing is sent twice


async def test_concurrent_relays_send_each_event_once(pool: AsyncConnectionPool) -> None:
    ingress = FakeBrokerIngress()
    async with pool.connection() as conn, conn.transaction():
        for _ in range(40):
            await record(conn, "dev.protostar.document.ready", "/embed", ready_data())
    counts = await asyncio.gather(
        *(send_pending(pool, ingress.client(), limit=10) for _ in range(8))
    )
    assert sum(counts) == 40
    assert len({e.id for e in ingress.accepted}) == len(ingress.accepted) == 40


async def test_relay_leaves_young_events_to_their_producer(pool: AsyncConnectionPool) -> None:
    ingress = FakeBrokerIngress()
    async with pool.connection() as conn, conn.transaction():
        await record(conn, "dev.protostar.document.ready", "/embed", ready_data())
    assert await send_pending(pool, ingress.client(), min_age_seconds=60) == 0
    assert await send_pending(pool, ingress.client(), min_age_seconds=0) == 1


async def test_consumer_is_idempotent_under_redelivery(
    pg: Database, pool: AsyncConnectionPool
) -> None:
    with psycopg.connect(pg.owner_url, autocommit=True) as owner:
        owner.execute("CREATE TABLE IF NOT EXISTS effect_probe (event_id text, n int)")
        owner.execute(f"GRANT SELECT, INSERT ON effect_probe TO {pg.roles.app}")
    event = new_event("dev.protostar.document.ready", "/embed", ready_data())

    async def consume(e: CloudEvent) -> None:
        async with pool.connection() as conn, conn.transaction():
            if not await first_delivery(conn, "probe", e):
                return
            await conn.execute("INSERT INTO effect_probe VALUES (%s, 1)", (e.id,))
            await asyncio.sleep(0.05)  # concurrent redeliveries overlap this window

    await asyncio.gather(*(consume(event) for _ in range(5)))
    await consume(event)

    async def failing(e: CloudEvent) -> None:
        async with pool.connection() as conn, conn.transaction():
            assert await first_delivery(conn, "probe-failing", e)
            raise RuntimeError("effect failed")

    with pytest.raises(RuntimeError):
        await failing(event)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM effect_probe WHERE event_id = %s", (event.id,)
        )
        assert await cur.fetchone() == (1,)
        # The failed attempt rolled back its claim: a redelivery will do the work.
        async with conn.transaction():
            assert await first_delivery(conn, "probe-failing", event)


async def test_dead_letters_are_kept_once_and_replayable(pool: AsyncConnectionPool) -> None:
    event = new_event("dev.protostar.document.ready", "/embed", ready_data()).with_attributes(
        knativeerrordest="http://embed/", knativeerrorcode="500", knativeerrordata="Ym9vbQ=="
    )
    assert await deadletters.record(pool, event)
    assert not await deadletters.record(pool, event)
    kept = [d for d in await deadletters.list_dead_letters(pool) if d.event.id == event.id]
    assert len(kept) == 1
    assert kept[0].error_code == "500"
    assert kept[0].destination == "http://embed/"
    original = deadletters.original(kept[0].event)
    assert "knativeerrordest" not in original.attributes
    assert original.json() == event.json()
    await deadletters.mark_replayed(pool, kept[0].seq)
    assert event.id not in [d.event.id for d in await deadletters.list_dead_letters(pool)]
    # Replayed, failed again: it is a dead letter again, still one row.
    assert await deadletters.record(pool, event)
    again = [d for d in await deadletters.list_dead_letters(pool) if d.event.id == event.id]
    assert len(again) == 1
    assert again[0].seq == kept[0].seq


@pytest.fixture
def consumer() -> tuple[httpx.AsyncClient, list[CloudEvent]]:
    got: list[CloudEvent] = []

    @cloudevent_endpoint(catalog=default_catalog())
    async def handle(event: CloudEvent) -> None:
        got.append(event)

    app = Starlette(routes=[Route("/", handle, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fn"), got


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (
            {
                "document_id": "not-a-uuid",
                "bot_id": str(uuid.uuid4()),
                "chunks": 1,
                "embedding_model": "m",
            },
            "application/json",
            "invalid_event_data",
        ),
        ({"chunks": 1}, "application/json", "invalid_event_data"),
        ("plain text", "text/plain", "bad_content_type"),
    ],
)
async def test_consumer_refuses_invalid_data_with_400(
    consumer: tuple[httpx.AsyncClient, list[CloudEvent]],
    data: object,
    content_type: str,
    code: str,
) -> None:
    client, got = consumer
    event = new_event("dev.protostar.document.ready", "/embed", {"x": 1})
    headers, _ = to_binary(event)
    headers["content-type"] = content_type
    body = (
        data.encode()
        if isinstance(data, str)
        else httpx.Request("POST", "http://x", json=data).content
    )
    response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert got == []


async def test_consumer_refuses_unknown_types(
    consumer: tuple[httpx.AsyncClient, list[CloudEvent]],
) -> None:
    client, got = consumer
    headers, body = to_binary(new_event("dev.protostar.not.catalogued", "/x", {"a": 1}))
    response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_event_type"
    assert got == []


async def test_consumer_accepts_valid_event(
    consumer: tuple[httpx.AsyncClient, list[CloudEvent]],
) -> None:
    client, got = consumer
    headers, body = to_binary(new_event("dev.protostar.document.ready", "/embed", ready_data()))
    response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 202
    assert len(got) == 1


async def test_sensitive_fields_leave_the_outbox_once_sent(pool: AsyncConnectionPool) -> None:
    ingress = FakeBrokerIngress()
    data = {
        "user_id": str(uuid.uuid4()),
        "email": "a@example.com",
        "reset_url": "http://x/reset#token=secret-token-123",
        "expires_at": "2030-01-01T00:00:00+00:00",
    }
    async with pool.connection() as conn, conn.transaction():
        event = await record(conn, "dev.protostar.password_reset.requested", "/auth", data)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT data->>'reset_url' FROM outbox WHERE event_id = %s", (event.id,)
        )
        assert await cur.fetchone() == (data["reset_url"],)  # until it is handed over
    assert await send_pending(pool, ingress.client(), event_ids=[event.id]) == 1
    assert ingress.accepted[0].json()["reset_url"] == data["reset_url"]
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT data FROM outbox WHERE event_id = %s", (event.id,))
        row = await cur.fetchone()
    assert row is not None
    assert "reset_url" not in row[0]
    assert row[0]["user_id"] == data["user_id"]


async def test_send_after_commit_is_best_effort(pool: AsyncConnectionPool) -> None:
    from localplatform.embedded.procs import free_port
    from shared.events.outbox import send_after_commit

    async with pool.connection() as conn, conn.transaction():
        event = await record(conn, "dev.protostar.document.ready", "/embed", ready_data())
    await send_after_commit(pool, None, [event.id])  # no broker: nothing to do
    await send_after_commit(pool, "http://broker/x", [])  # nothing to send
    # A broker nobody listens on: no error for the caller, the event stays for the relay.
    await send_after_commit(pool, f"http://127.0.0.1:{free_port()}/protostar/default", [event.id])
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT sent_at IS NULL, attempts FROM outbox WHERE event_id = %s", (event.id,)
        )
        assert await cur.fetchone() == (True, 1)


async def test_a_unit_of_work_sends_its_events_after_the_commit_and_never_on_rollback(
    pool: AsyncConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.db.unit import unit_of_work
    from shared.events import outbox

    ingress = FakeBrokerIngress()
    sink = "http://broker/protostar/default"
    monkeypatch.setitem(outbox._clients, sink, ingress.client())
    async with unit_of_work(pool, sink=sink, user="u-1", asker="user:u-1", bot="b-1") as uow:
        cur = await uow.conn.execute(
            "SELECT current_setting('app.user_id'), current_setting('app.asker'), "
            "current_setting('app.bot_id')"
        )
        assert await cur.fetchone() == ("u-1", "user:u-1", "b-1")
        first = await uow.record("dev.protostar.document.ready", "/embed", ready_data())
        second = await uow.record("dev.protostar.document.ready", "/embed", ready_data())
        assert ingress.accepted == []  # not before the commit
    assert [e.id for e in ingress.accepted] == [first.id, second.id]

    recorded: list[str] = []

    async def failing_write() -> None:
        async with unit_of_work(pool, sink=sink) as uow:
            event = await uow.record("dev.protostar.document.ready", "/embed", ready_data())
            recorded.append(event.id)
            raise RuntimeError("the write failed")

    with pytest.raises(RuntimeError):
        await failing_write()
    (lost,) = recorded
    assert [e.id for e in ingress.accepted] == [first.id, second.id]
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM outbox WHERE event_id = %s", (lost,))
        assert await cur.fetchone() == (0,)
        cur = await conn.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND event_id = ANY(%s)",
            ([first.id, second.id],),
        )
        assert await cur.fetchone() == (0,)
