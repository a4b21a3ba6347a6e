"""Dead letters: events that exhausted their retries, kept for inspection and replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from shared.events.cloudevent import CloudEvent

ERROR_EXTENSIONS = ("knativeerrordest", "knativeerrorcode", "knativeerrordata")


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    event: CloudEvent
    destination: str
    error_code: str | None
    error_data: str | None
    received_at: datetime
    replayed_at: datetime | None


async def record(pool: AsyncConnectionPool, event: CloudEvent) -> bool:
    """Keep ``event``; False if this (source, id, destination) is already kept.

    A dead letter that was replayed and failed again is kept again (not replayed yet).
    """
    attrs = event.attributes
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO dead_letters (event_id, source, type, destination, error_code, "
            "error_data, attributes, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (source, event_id, destination) DO UPDATE SET "
            "replayed_at = NULL, received_at = now(), error_code = EXCLUDED.error_code, "
            "error_data = EXCLUDED.error_data WHERE dead_letters.replayed_at IS NOT NULL",
            (
                event.id,
                event.source,
                event.type,
                attrs.get("knativeerrordest", ""),
                attrs.get("knativeerrorcode"),
                attrs.get("knativeerrordata"),
                Jsonb(dict(attrs)),
                event.data,
            ),
        )
        return cur.rowcount == 1


async def list_dead_letters(
    pool: AsyncConnectionPool, *, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetter]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT seq, attributes, data, destination, error_code, error_data, received_at, "
            "replayed_at FROM dead_letters WHERE %s OR replayed_at IS NULL "
            "ORDER BY seq LIMIT %s",
            (include_replayed, limit),
        )
        rows = await cur.fetchall()
    return [
        DeadLetter(
            int(seq),
            CloudEvent(
                {str(k): str(v) for k, v in attrs.items()},
                bytes(data) if data is not None else None,
            ),
            dest,
            code,
            edata,
            received,
            replayed,
        )
        for seq, attrs, data, dest, code, edata, received, replayed in rows
    ]


def original(event: CloudEvent) -> CloudEvent:
    """The event as it was before delivery failed (error extensions removed)."""
    return event.with_attributes(**dict.fromkeys(ERROR_EXTENSIONS))


async def mark_replayed(pool: AsyncConnectionPool, seq: int) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE seq = %s", (seq,))
