"""One unit of work for a write: a transaction whose row-level-security context is set
once, the outbox events recorded inside it collected, the commit, then the events
handed to the broker (outbox-relay re-sends whatever does not get through).

    async with unit_of_work(pool, sink=broker_url, user=user_id) as uow:
        await uow.conn.execute("UPDATE ...")
        await uow.record("dev.protostar.user.updated", SOURCE, data)
    # committed; the event is on its way

:func:`scope` is the one place that sets the RLS context (``app.user_id``,
``app.asker``, ``app.bot_id``) and other transaction-local settings.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

if TYPE_CHECKING:  # the events package (and httpx) load only where events are written
    from shared.events.cloudevent import CloudEvent

# The row-level-security context the policies read (migrations), by role in a request.
CONTEXT = {
    "user": "app.user_id",
    "asker": "app.asker",
    "bot": "app.bot_id",
    "talent": "app.talent",
}


async def scope(
    conn: AsyncConnection,
    *,
    user: str | None = None,
    asker: str | None = None,
    bot: str | None = None,
    talent: bool = False,
    settings: dict[str, str] | None = None,
) -> None:
    """Set the RLS context and other transaction-local settings (``lock_timeout``,
    ``hnsw.ef_search``) in one statement; must run inside a transaction. ``talent``
    reads every discoverable bot's chunks and documents (talent search, migration 0011)."""
    pairs = [(CONTEXT[k], v) for k, v in (("user", user), ("asker", asker), ("bot", bot)) if v]
    if talent:
        pairs.append((CONTEXT["talent"], "on"))
    pairs += list((settings or {}).items())
    if not pairs:
        return
    await conn.execute(_statement(len(pairs)), [x for pair in pairs for x in pair])


@functools.cache
def _statement(n: int) -> str:
    # A constant text per count (the ask path runs it per question: the same text lets
    # psycopg prepare it once per connection, and costs no composing).
    return "SELECT " + ", ".join(["set_config(%s, %s, true)"] * n)


class UnitOfWork:
    """The transaction's connection, and the events recorded on it."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.events: list[CloudEvent] = []
        self.committed = False  # set once the transaction has committed (before sending)

    async def record(
        self, type_: str, source: str, data: Any, *, subject: str | None = None
    ) -> CloudEvent:
        """Record an outbox event in this transaction; it is sent after the commit."""
        from shared.events import outbox  # with httpx: not on the cold path of readers

        event = await outbox.record(self.conn, type_, source, data, subject=subject)
        self.events.append(event)
        return event


@asynccontextmanager
async def unit_of_work(
    pool: AsyncConnectionPool,
    *,
    sink: str | None = None,
    user: str | None = None,
    asker: str | None = None,
    bot: str | None = None,
    talent: bool = False,
) -> AsyncIterator[UnitOfWork]:
    """A transaction scoped to ``user``/``asker``/``bot``; its events go to ``sink``
    (the broker ingress, K_SINK) once it has committed, never when it rolls back."""
    async with pool.connection() as conn, conn.transaction():
        await scope(conn, user=user, asker=asker, bot=bot, talent=talent)
        unit = UnitOfWork(conn)
        yield unit
    unit.committed = True
    if unit.events:
        from shared.events import outbox

        await outbox.send_after_commit(pool, sink, [e.id for e in unit.events])
