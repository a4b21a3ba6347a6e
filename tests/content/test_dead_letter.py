"""A document whose document.uploaded event is dead-lettered ends ``failed`` (not
``processing`` forever), through the real broker dispatch: content (upload, outbox, sent
to the broker's ingress) -> broker (PostgreSQL backend) -> embed over HTTP, its retries,
then the deadletter function over HTTP -> status failed + document.failed through the
broker. A replay of the dead letter, once the embedder is back, still makes it ready."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import psycopg
import pytest

import shared.resources
from localplatform.broker.broker import Broker
from localplatform.broker.model import DeliverySpec, TriggerSpec
from localplatform.broker.postgres import PostgresBackend
from localplatform.embedded.procs import free_port
from shared.content.failure import FAILED, UPLOADED, give_up, undeliverable_reason
from shared.events import deadletters
from shared.events.cloudevent import CloudEvent, new_event, to_binary
from shared.settings import get_settings
from tests.accounts.conftest import PUBLIC_URL
from tests.conftest import ROOT, Database
from tests.embeddings.fake_gemini import serve
from tests.support.gateway import Gateway
from tests.support.subscriber import Subscriber, running_subscriber

pytestmark = pytest.mark.e2e  # the whole system, through the local runtime

RETRIES = 2  # deliveries: the first and 2 retries


def _reset() -> None:
    get_settings.cache_clear()
    shared.resources._current = None


class System:
    """content, embed and deadletter (fresh function instances), a broker, a recorder."""

    def __init__(self, gateway: Gateway, broker: Broker, recorder: Subscriber, dl_url: str):
        self.gateway = gateway
        self.broker = broker
        self.recorder = recorder
        self.dl_url = dl_url

    def api(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.gateway, client=("10.9.0.1", 1))
        return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, timeout=60)


@pytest.fixture
async def system(
    accounts_env: dict[str, str], pg: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[System, int]]:
    """Yields the system and the port the embedder will listen on (nothing does yet)."""
    namespace = f"dl{uuid.uuid4().hex[:8]}"
    embedder_port = free_port()
    broker_port = free_port()
    monkeypatch.setenv("EMBEDDER_URL", f"http://127.0.0.1:{embedder_port}")
    monkeypatch.setenv("EMBEDDING_PROVIDER", "local")
    monkeypatch.setenv("BROKER_URL", f"http://127.0.0.1:{broker_port}/{namespace}/default")
    _reset()
    gateway = Gateway()  # its own function instances: no client cached by other tests
    async with AsyncExitStack() as stack:
        recorder = await stack.enter_async_context(running_subscriber())
        embed_url = await stack.enter_async_context(serve(gateway.app("embed"), free_port()))
        dl_url = await stack.enter_async_context(serve(gateway.app("deadletter"), free_port()))
        delivery = DeliverySpec(
            retry=RETRIES,
            backoff_policy="linear",
            backoff_delay=0.05,
            dead_letter_url=dl_url,
            timeout=60,
        )
        broker = Broker(
            PostgresBackend(pg.app_url, namespace=namespace),
            [
                TriggerSpec("embed", "default", embed_url, {"type": UPLOADED}, delivery),
                TriggerSpec("failed", "default", recorder.url("failed"), {"type": FAILED}),
            ],
            namespace=namespace,
        )
        await broker.start()
        stack.push_async_callback(broker.stop)
        await stack.enter_async_context(serve(broker.asgi(), broker_port))
        yield System(gateway, broker, recorder, dl_url), embedder_port
        if shared.resources._current is not None:
            await shared.resources._current.close()
    monkeypatch.undo()
    _reset()


async def _wait(api: httpx.AsyncClient, path: str, want: set[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await api.get(path)).json()
        if body.get("status") in want:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"document stuck at {body}")


def _rows(pg: Database, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.superuser_url) as conn:
        return conn.execute(sql, args).fetchall()


async def test_dead_lettered_upload_ends_failed_once_and_a_replay_makes_it_ready(
    system: tuple[System, int], owner: dict[str, Any], pg: Database
) -> None:
    sys_, embedder_port = system
    bot = owner["bot"]
    async with sys_.api() as api:
        api.headers.update(owner["headers"])
        uploaded = await api.post(
            f"/api/bots/{bot}/documents",
            files={"file": ("cv.md", b"# Jane\n\nI ran Kafka and Redis in production.\n")},
        )
        assert uploaded.status_code == 202, uploaded.text
        doc_id = uploaded.json()["id"]
        path = f"/api/bots/{bot}/documents/{doc_id}"

        # The embedder is down through every retry: dead-lettered, then failed.
        failed = await _wait(api, path, {"failed", "ready"})
        assert failed["status"] == "failed", failed
        assert failed["error"] == (
            f"could not be processed after {RETRIES + 1} attempts: the embedding service "
            "was unavailable; reindex to retry"
        )
        (event_id,) = _rows(
            pg, "SELECT event_id FROM outbox WHERE type = %s AND subject = %s", UPLOADED, doc_id
        )[0]
        kept = _rows(pg, "SELECT error_code FROM dead_letters WHERE event_id = %s", event_id)
        assert kept == [("503",)]
        # document.failed went through the outbox AND the broker, with the same reason.
        (got,) = await _failed_events(sys_.recorder, doc_id)
        assert got.event.json() == {
            "document_id": doc_id,
            "bot_id": owner["bot_id"],
            "reason": failed["error"],
        }

        # The sink is delivered to at least once: the same dead letter again changes nothing.
        dead = [d for d in await _dead_letters(pg) if d.event.id == event_id]
        headers, body = to_binary(dead[0].event)
        async with httpx.AsyncClient() as plain:
            again = await plain.post(sys_.dl_url, content=body, headers=headers)
        assert again.status_code == 202
        assert _rows(
            pg, "SELECT count(*) FROM outbox WHERE type = %s AND subject = %s", FAILED, doc_id
        ) == [(1,)]
        assert (await api.get(path)).json()["error"] == failed["error"]

        # The embedder comes back; replaying the dead letter makes the document ready.
        from functions_framework.aio import create_asgi_app

        embedder = create_asgi_app("embedder", str(ROOT / "functions/embedder/main.py"))
        async with serve(embedder, embedder_port):
            await sys_.broker.publish("default", deadletters.original(dead[0].event))
            ready = await _wait(api, path, {"ready"}, timeout=180)
        assert ready["chunks"] >= 1
        assert "error" not in ready
        await asyncio.sleep(0.3)
        assert len(await _failed_events(sys_.recorder, doc_id)) == 1  # no second failure


async def _failed_events(recorder: Subscriber, doc_id: str) -> list[Any]:
    """document.failed events of ``doc_id`` (the outbox may also send other tests' events)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mine = [r for r in recorder.at("failed") if r.event.json()["document_id"] == doc_id]
        if mine:
            return mine
        await asyncio.sleep(0.05)
    raise AssertionError(f"no document.failed for {doc_id}")


async def _dead_letters(pg: Database) -> list[deadletters.DeadLetter]:
    from shared.db.pool import open_pool

    pool = await open_pool(pg.app_url, name="test", min_size=1, max_size=1, conn_timeout=5)
    try:
        return await deadletters.list_dead_letters(pool, include_replayed=True, limit=10000)
    finally:
        await pool.close()


async def test_a_dead_letter_of_a_superseded_event_leaves_the_document_alone(
    accounts_env: dict[str, str], owner: dict[str, Any], client: httpx.AsyncClient, pg: Database
) -> None:
    """Without a broker (events stay in the outbox): upload, reindex, then the FIRST
    event dead-letters late. The reindex's event decides; its own dead letter fails it."""
    from shared.db.pool import open_pool

    bot, headers = owner["bot"], owner["headers"]
    uploaded = await client.post(
        f"/api/bots/{bot}/documents", headers=headers, files={"file": ("a.txt", b"Kafka.")}
    )
    doc_id = uploaded.json()["id"]
    assert (await client.post(f"/api/bots/{bot}/reindex", headers=headers)).status_code == 202
    events = _rows(
        pg,
        "SELECT event_id, source, data::text FROM outbox WHERE type = %s AND subject = %s "
        "ORDER BY seq",
        UPLOADED,
        doc_id,
    )
    assert len(events) == 2

    def dead(row: tuple[Any, ...], code: str) -> CloudEvent:
        event = new_event(UPLOADED, row[1], json.loads(row[2]))
        return event.with_attributes(id=row[0], knativeerrorcode=code)

    pool = await open_pool(pg.app_url, name="test", min_size=1, max_size=1, conn_timeout=5)
    try:
        assert (await give_up(pool, dead(events[0], "503")))[0] == "superseded"
        assert (await client.get(f"/api/bots/{bot}/documents/{doc_id}", headers=headers)).json()[
            "status"
        ] == "uploaded"
        outcome, failed_id = await give_up(pool, dead(events[1], "0"))
        assert outcome == "failed"
        assert failed_id is not None
        assert await give_up(pool, dead(events[1], "0")) == ("settled", None)
        bad = new_event(UPLOADED, "/x", {"document_id": "no"})
        assert await give_up(pool, bad) == ("ignored", None)
    finally:
        await pool.close()
    body = (await client.get(f"/api/bots/{bot}/documents/{doc_id}", headers=headers)).json()
    assert body["status"] == "failed"
    assert body["error"] == (
        "could not be processed: the embed service did not answer; reindex to retry"
    )
    assert _rows(
        pg, "SELECT count(*) FROM outbox WHERE type = %s AND subject = %s", FAILED, doc_id
    ) == [(1,)]


@pytest.mark.parametrize(
    ("code", "body", "attempts", "reason"),
    [
        ("503", b'{"error": {"code": "gemini_circuit_open", "message": "x"}}', 6,
         "could not be processed after 6 attempts: the embedding service was unavailable"),
        ("400", b'{"error": {"code": "embedding_rejected", "message": "at http://10.0.0.1"}}',
         1, "could not be processed after 1 attempt: the embedding service refused the "
         "document's text"),
        ("500", b'{"error": {"code": "internal", "message": "internal error"}}', 6,
         "could not be processed after 6 attempts: the embed step failed (HTTP 500, internal)"),
        ("504", b"", 2, "could not be processed after 2 attempts: the embed step ran out of time"),
        ("0", b"ClientConnectorError: refused", 0,
         "could not be processed: the embed service did not answer"),
    ],
)  # fmt: skip
def test_undeliverable_reasons_are_human_and_name_no_internal_address(
    code: str, body: bytes, attempts: int, reason: str
) -> None:
    event = new_event(UPLOADED, "/protostar/content", {}).with_attributes(
        knativeerrorcode=code, knativeerrordata=base64.b64encode(body).decode()
    )
    assert undeliverable_reason(event, attempts) == f"{reason}; reindex to retry"
    assert "10.0.0.1" not in undeliverable_reason(event, attempts)
