"""The daily digest against real rows in PostgreSQL, as the app role under row-level
security: counts per bot for exactly the Seoul day, once per (bot, day)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from localplatform.manifests.load import load_manifests
from localplatform.manifests.pingsource import ping_event_attributes
from localplatform.runtime.topology import build_topology
from shared.db.pool import open_pool
from shared.digest.service import COMPILED, compile_day
from shared.events.catalog import default_catalog
from shared.events.cloudevent import CloudEvent, to_binary
from tests.conftest import ROOT, Database

SEOUL = ZoneInfo("Asia/Seoul")
TZ = "Asia/Seoul"


@pytest.fixture
async def pool(pg: Database) -> AsyncIterator[AsyncConnectionPool]:
    p = await open_pool(pg.app_url, name="digest-test", min_size=1, max_size=4)
    yield p
    await p.close()


class Seed:
    """Rows written as the superuser (setup only; the code under test is the app role)."""

    def __init__(self, pg: Database) -> None:
        self.conn = psycopg.connect(pg.superuser_url, autocommit=True)

    def owner(self) -> str:
        row = self.conn.execute(
            "INSERT INTO users (email, password_hash, role) VALUES (%s, 'x', 'protostar') "
            "RETURNING id",
            (f"o-{uuid.uuid4().hex[:10]}@example.com",),
        ).fetchone()
        assert row is not None
        return str(row[0])

    def bot(self, owner: str, name: str = "Career bot") -> dict[str, str]:
        slug = f"d-{uuid.uuid4().hex[:10]}"
        row = self.conn.execute(
            "INSERT INTO bots (owner_id, slug, name) VALUES (%s, %s, %s) RETURNING id",
            (owner, slug, name),
        ).fetchone()
        assert row is not None
        conv = self.conn.execute(
            "INSERT INTO conversations (bot_id, bot_owner_id, asker, title) "
            "VALUES (%s, %s, 'guest:v_test', 't') RETURNING id",
            (row[0], owner),
        ).fetchone()
        assert conv is not None
        return {"id": str(row[0]), "slug": slug, "name": name, "owner": owner, "conv": str(conv[0])}

    def ask(
        self, bot: dict[str, str], question: str, at: datetime, *, answerable: bool = True
    ) -> str:
        row = self.conn.execute(
            "INSERT INTO messages (conversation_id, bot_id, bot_owner_id, asker, question, "
            "standalone, language, answer, answerable, provider, latency_ms, created_at) "
            "VALUES (%s, %s, %s, 'guest:v_test', %s, %s, 'en', 'a', %s, 'extractive', 5, %s) "
            "RETURNING id",
            (bot["conv"], bot["id"], bot["owner"], question, question, answerable, at),
        ).fetchone()
        assert row is not None
        return str(row[0])

    def rate(self, bot: dict[str, str], message: str, rating: str, at: datetime) -> None:
        self.conn.execute(
            "INSERT INTO feedback (message_id, bot_id, bot_owner_id, asker, rating, created_at) "
            "VALUES (%s, %s, %s, 'guest:v_test', %s, %s)",
            (message, bot["id"], bot["owner"], rating, at),
        )

    def digests(self, bot: dict[str, str]) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT o.data FROM outbox o WHERE o.type = %s AND o.subject = %s ORDER BY o.seq",
            (COMPILED, bot["id"]),
        ).fetchall()
        return [r[0] for r in rows]


@pytest.fixture
def seed(pg: Database) -> Seed:
    return Seed(pg)


def far_day() -> date:
    """A Seoul day no other test writes to (each test gets its own)."""
    return date(2001, 1, 1) + timedelta(days=uuid.uuid4().int % 5000)


def at(day: date, hour: int, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, us, tzinfo=SEOUL)


async def test_counts_exactly_the_seoul_day_per_bot(seed: Seed, pool: AsyncConnectionPool) -> None:
    day = far_day()
    owner = seed.owner()
    bot = seed.bot(owner, "Jane's career")
    quiet = seed.bot(owner)  # no activity: no digest
    before = at(day, 0) - timedelta(microseconds=1)  # 23:59:59.999999 the day before
    seed.ask(bot, "Too early?", before)
    seed.ask(bot, "Too late?", at(day + timedelta(days=1), 0))
    m1 = seed.ask(bot, "Has she run Kubernetes?", at(day, 0))  # 00:00:00 KST: inside
    m2 = seed.ask(bot, "has she  run kubernetes?", at(day, 12))
    seed.ask(bot, "Has she run Kubernetes?", at(day, 13))
    m4 = seed.ask(bot, "왜 RabbitMQ를 골랐나요?", at(day, 14), answerable=False)
    seed.ask(bot, "Salary?", at(day, 23, 59, 59, 999999), answerable=False)
    seed.rate(bot, m1, "up", at(day, 1))
    seed.rate(bot, m2, "up", at(day, 2))
    seed.rate(bot, m4, "down", at(day, 15))
    old = seed.ask(bot, "Yesterday's question", before)
    seed.rate(bot, old, "down", at(day, 3))  # feedback given on the day counts that day

    event_ids = await compile_day(pool, day, TZ)
    assert len(event_ids) == 1
    (data,) = seed.digests(bot)
    assert seed.digests(quiet) == []
    default_catalog().check_data(COMPILED, data)
    assert data == {
        "bot_id": bot["id"],
        "bot_slug": bot["slug"],
        "bot_name": "Jane's career",
        "owner_id": owner,
        "day": day.isoformat(),
        "questions": 5,
        "unanswered": 2,
        "feedback_up": 2,
        "feedback_down": 2,
        "top_questions": [
            {"question": "Has she run Kubernetes?", "count": 3},
            {"question": "왜 RabbitMQ를 골랐나요?", "count": 1},
            {"question": "Salary?", "count": 1},
        ],
    }


async def test_a_rerun_of_the_same_day_emits_nothing_new(
    seed: Seed, pool: AsyncConnectionPool
) -> None:
    day = far_day()
    bot = seed.bot(seed.owner())
    seed.ask(bot, "First?", at(day, 10))
    assert len(await compile_day(pool, day, TZ)) == 1
    seed.ask(bot, "Late arrival?", at(day, 11))  # even with new rows for that day
    assert await compile_day(pool, day, TZ) == []
    assert len(seed.digests(bot)) == 1
    # The next day is its own digest.
    seed.ask(bot, "Next day?", at(day + timedelta(days=1), 10))
    assert len(await compile_day(pool, day + timedelta(days=1), TZ)) == 1
    assert [d["day"] for d in seed.digests(bot)] == [
        day.isoformat(),
        (day + timedelta(days=1)).isoformat(),
    ]


async def test_concurrent_runs_emit_each_digest_once(seed: Seed, pool: AsyncConnectionPool) -> None:
    day = far_day()
    bots = [seed.bot(seed.owner()) for _ in range(3)] + [seed.bot(seed.owner())]
    for n, bot in enumerate(bots):
        for i in range(n + 1):
            seed.ask(bot, f"Question {i}?", at(day, 9 + i))
    results = await asyncio.gather(*(compile_day(pool, day, TZ) for _ in range(3)))
    assert sum(len(r) for r in results) == 4
    for n, bot in enumerate(bots):
        (data,) = seed.digests(bot)
        assert data["questions"] == n + 1


async def test_top_questions_are_at_most_five(seed: Seed, pool: AsyncConnectionPool) -> None:
    day = far_day()
    bot = seed.bot(seed.owner())
    for i in range(8):
        for _ in range(8 - i):
            seed.ask(bot, f"Question number {i}?", at(day, 10, i))
    await compile_day(pool, day, TZ)
    (data,) = seed.digests(bot)
    assert data["questions"] == sum(range(1, 9))
    assert [(q["question"], q["count"]) for q in data["top_questions"]] == [
        (f"Question number {i}?", 8 - i) for i in range(5)
    ]


async def test_the_app_role_reads_only_through_the_owner(
    seed: Seed, pool: AsyncConnectionPool
) -> None:
    day = far_day()
    bot = seed.bot(seed.owner())
    seed.ask(bot, "Visible?", at(day, 10))
    async with pool.connection() as conn:
        # Without app.user_id, the app role sees no message and no digest row at all.
        cur = await conn.execute("SELECT count(*) FROM messages WHERE bot_id = %s", (bot["id"],))
        assert await cur.fetchone() == (0,)
        # digest_owners tells only which owners had activity, and no rows leak after it.
        cur = await conn.execute(
            "SELECT * FROM digest_owners(%s, %s)",
            (at(day, 0).astimezone(UTC), at(day + timedelta(days=1), 0).astimezone(UTC)),
        )
        assert await cur.fetchall() == [(uuid.UUID(bot["owner"]),)]
        cur = await conn.execute("SELECT count(*) FROM messages WHERE bot_id = %s", (bot["id"],))
        assert await cur.fetchone() == (0,)
        cur = await conn.execute("SELECT current_setting('app.activity_lookup', true)")
        assert (await cur.fetchone()) in ((None,), ("",), ("off",))
        await conn.rollback()
    assert len(await compile_day(pool, day, TZ)) == 1
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM digests WHERE bot_id = %s", (bot["id"],))
        assert await cur.fetchone() == (0,)


async def test_the_function_compiles_yesterday_on_its_ping(
    seed: Seed, pg: Database, database_env: None
) -> None:
    from functions_framework.aio import create_asgi_app

    import shared.resources

    day = far_day()
    bot = seed.bot(seed.owner())
    seed.ask(bot, "Pinged?", at(day, 8))
    topology = build_topology(load_manifests(ROOT / "knative" / "base"))
    (spec,) = [p for p in topology.pingsources if p.name == "digest"]
    fired = at(day + timedelta(days=1), 9)
    app = create_asgi_app("digest", str(ROOT / "functions/digest/main.py"))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://digest"
        ) as client:
            for _ in range(2):  # the second delivery emits nothing new
                headers, body = to_binary(
                    CloudEvent(ping_event_attributes(spec, fired, str(uuid.uuid4())), spec.data)
                )
                response = await client.post("/", headers=headers, content=body)
                assert response.status_code == 202, response.text
            (data,) = seed.digests(bot)
            assert (data["day"], data["questions"]) == (day.isoformat(), 1)
            bad = CloudEvent(ping_event_attributes(spec, fired, "p-bad"), b'{"day":"2999-01-01"}')
            headers, body = to_binary(bad)
            response = await client.post("/", headers=headers, content=body)
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "invalid_digest_day"
    finally:
        if shared.resources._current is not None:
            await shared.resources._current.close()
