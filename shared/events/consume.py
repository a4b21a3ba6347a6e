"""Idempotent consumers: record ``(consumer, source, id)`` with the effect, in one
transaction, so a redelivered event changes nothing."""

from __future__ import annotations

from psycopg import AsyncConnection

from shared.events.cloudevent import CloudEvent


async def first_delivery(conn: AsyncConnection, consumer: str, event: CloudEvent) -> bool:
    """Claim ``event`` for ``consumer`` on ``conn``'s open transaction.

    True the first time; False if it was already processed (then do nothing). A
    concurrent redelivery blocks on the first one's row until it commits or rolls back.
    """
    cur = await conn.execute(
        "INSERT INTO processed_events (consumer, source, event_id) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (consumer, event.source, event.id),
    )
    return cur.rowcount == 1
