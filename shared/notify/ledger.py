"""The ledger of notifications: one row per (event source, event id, channel).

How one message per event holds under redelivery (migration 0007 has the long form):

1. :func:`exclusive` takes a transaction-level advisory lock on the key, on a
   connection of its own that stays open while the delivery runs. A concurrent
   redelivery of the same event waits there; a crash closes the connection and frees
   the lock at once (no lease to expire).
2. :func:`open_entry` reads the row (creating it): a finished row means "already
   handled", and nothing is sent again.
3. After every message the remote side accepted, :func:`progress` commits it (a long
   Discord notification is several messages; a redelivery resumes after the last one).
4. :func:`finish` closes the row as ``sent``, ``failed`` (permanent) or ``logged``.

A crash between the remote side accepting a message and step 3 committing means that
one message is sent again by the redelivery: at least once, never lost (a lost password
reset is worse than a repeated one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from psycopg import errors
from psycopg_pool import AsyncConnectionPool

from shared.db.unit import scope
from shared.notify.errors import TransientFailure

FINISHED = frozenset({"sent", "failed", "logged"})


@dataclass(frozen=True)
class Key:
    source: str
    event_id: str
    channel: str

    @property
    def lock_name(self) -> str:
        return f"notify\x1f{self.source}\x1f{self.event_id}\x1f{self.channel}"


@dataclass(frozen=True)
class Entry:
    status: str
    parts_sent: int
    remote_ids: tuple[str, ...]
    attempts: int
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@asynccontextmanager
async def exclusive(
    pool: AsyncConnectionPool, key: Key, *, wait: float, hold: float = 600.0
) -> AsyncIterator[None]:
    """Hold the key's lock for the block; waits up to ``wait`` seconds for it.

    The lock's transaction is idle while the block sends, so the pool's idle-in-
    transaction timeout is raised to ``hold`` seconds for it (transaction-local): the
    server must not end it, and with it the lock, while a delivery is still running.
    """
    async with pool.connection() as conn, conn.transaction():
        await scope(
            conn,
            settings={
                "lock_timeout": f"{max(1, int(wait * 1000))}ms",
                "statement_timeout": f"{int(wait * 1000) + 5000}ms",
                "idle_in_transaction_session_timeout": f"{int(hold)}s",
            },
        )
        try:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key.lock_name,)
            )
        except errors.LockNotAvailable:
            raise TransientFailure(
                "another delivery of this notification is still running"
            ) from None
        yield


async def open_entry(pool: AsyncConnectionPool, key: Key, event_type: str, target: str) -> Entry:
    """The key's row, created on first sight; an unfinished one counts an attempt."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO notifications (source, event_id, channel, event_type, target, attempts)"
            " VALUES (%s, %s, %s, %s, %s, 1)"
            " ON CONFLICT (source, event_id, channel) DO UPDATE"
            " SET attempts = notifications.attempts + 1, target = EXCLUDED.target,"
            " updated_at = now() WHERE notifications.status = 'sending'"
            " RETURNING status, parts_sent, remote_ids, attempts, error",
            (key.source, key.event_id, key.channel, event_type, target),
        )
        row = await cur.fetchone()
        if row is None:
            cur = await conn.execute(
                "SELECT status, parts_sent, remote_ids, attempts, error FROM notifications"
                " WHERE source = %s AND event_id = %s AND channel = %s",
                (key.source, key.event_id, key.channel),
            )
            row = await cur.fetchone()
    assert row is not None
    status, parts_sent, remote_ids, attempts, error = row
    return Entry(status, parts_sent, tuple(remote_ids), attempts, error)


async def progress(
    pool: AsyncConnectionPool, key: Key, *, parts_total: int, remote_id: str
) -> None:
    """One more message of the notification was accepted (committed right away)."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE notifications SET parts_sent = parts_sent + 1, parts_total = %s,"
            " remote_ids = array_append(remote_ids, %s), updated_at = now()"
            " WHERE source = %s AND event_id = %s AND channel = %s AND status = 'sending'",
            (parts_total, remote_id, key.source, key.event_id, key.channel),
        )


async def finish(
    pool: AsyncConnectionPool, key: Key, status: str, *, error: str | None = None
) -> None:
    if status not in FINISHED:
        raise ValueError(f"not a final status: {status!r}")
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE notifications SET status = %s, error = %s, finished_at = now(),"
            " updated_at = now()"
            " WHERE source = %s AND event_id = %s AND channel = %s AND status = 'sending'",
            (status, error[:1000] if error else None, key.source, key.event_id, key.channel),
        )


async def note_error(pool: AsyncConnectionPool, key: Key, error: str) -> None:
    """A transient failure: the row stays open for the redelivery, with the reason."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE notifications SET error = %s, updated_at = now()"
            " WHERE source = %s AND event_id = %s AND channel = %s AND status = 'sending'",
            (error[:1000], key.source, key.event_id, key.channel),
        )
