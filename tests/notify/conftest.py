"""notify against real infrastructure: the session's embedded PostgreSQL (as the app
role, under row-level security), a fake Discord over HTTP and a real SMTP server
(aiosmtpd) whose replies the tests script."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from shared.db.pool import open_pool
from shared.settings import Settings, load_settings
from tests.conftest import Database
from tests.notify.fake_discord import FakeDiscord

OPERATOR_ID = "700000000000000001"
OPERATOR_TOKEN = "operator-token_ABC"


def superuser(pg: Database, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        cur = conn.execute(sql.encode(), params)
        return cur.fetchall() if cur.description else []


def new_user(pg: Database, *, role: str = "stargazer", locale: str | None = None) -> str:
    user_id = str(uuid.uuid4())
    superuser(
        pg,
        "INSERT INTO users (id, email, password_hash, role, display_name, locale)"
        " VALUES (%s, %s, 'x', %s, %s, %s)",
        user_id,
        f"u-{user_id[:8]}@example.com",
        role,
        f"User {user_id[:4]}",
        locale,
    )
    return user_id


def new_bot(pg: Database, owner_id: str, webhook: str | None = None) -> tuple[str, str]:
    slug = f"nb-{uuid.uuid4().hex[:10]}"
    (row,) = superuser(
        pg,
        "INSERT INTO bots (owner_id, slug, name, discord_webhook) VALUES (%s, %s, %s, %s)"
        " RETURNING id::text",
        owner_id,
        slug,
        f"Bot {slug}",
        webhook,
    )
    return str(row[0]), slug


def ledger_rows(pg: Database, event_id: str) -> dict[str, tuple[Any, ...]]:
    rows = superuser(
        pg,
        "SELECT channel, status, parts_sent, parts_total, array_length(remote_ids, 1),"
        " attempts, error, target FROM notifications WHERE event_id = %s",
        event_id,
    )
    return {r[0]: r[1:] for r in rows}


@pytest.fixture(scope="session")
async def pool(pg: Database) -> AsyncIterator[AsyncConnectionPool]:
    p = await open_pool(pg.app_url, name="notify-tests", min_size=1, max_size=12)
    yield p
    await p.close()


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    runner = await fake.start()
    yield fake
    await runner.cleanup()


def settings(discord_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "discord_api_url": discord_url,
        "public_url": "http://protostar.test",
        "protostar_env": "production",
    }
    base.update(overrides)
    return load_settings(**base)


# ------------------------------------------------------------------- a real SMTP server


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float


@dataclass
class ScriptedHandler:
    """aiosmtpd handler: answers DATA from a script (e.g. 451, then 250), else 250."""

    script: deque[str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)  # monotonic time of each DATA

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts.append(time.monotonic())
        if self.script:
            return self.script.popleft()
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.monotonic()
            )
        )
        return "250 2.0.0 OK queued"


@dataclass
class Smtp:
    host: str
    port: int
    handler: ScriptedHandler


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port (the controller connects to it to check)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Smtp("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
