"""Compile the digests of one day: per bot owner, under row-level security as that
owner, per bot with activity, the counts and top questions, recorded once per
(bot, day) with its outbox event in one transaction."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.db.unit import unit_of_work
from shared.digest.days import day_window

log = logging.getLogger("protostar.digest")

SOURCE = "/protostar/digest"
COMPILED = "dev.protostar.digest.compiled"
TOP_QUESTIONS = 5

# The owner's bots with a question or feedback in [start, end). RLS: only the owner's
# rows are visible (app.user_id), the asker policies match nothing (no app.asker).
_COUNTS = """
WITH q AS (
    SELECT bot_id, count(*) AS questions, count(*) FILTER (WHERE NOT answerable) AS unanswered
    FROM messages WHERE created_at >= %(start)s AND created_at < %(end)s
    GROUP BY bot_id
), f AS (
    SELECT bot_id,
           count(*) FILTER (WHERE rating = 'up') AS up,
           count(*) FILTER (WHERE rating = 'down') AS down
    FROM feedback WHERE created_at >= %(start)s AND created_at < %(end)s
    GROUP BY bot_id
)
SELECT b.id, b.slug, b.name, b.owner_id,
       coalesce(q.questions, 0) AS questions, coalesce(q.unanswered, 0) AS unanswered,
       coalesce(f.up, 0) AS feedback_up, coalesce(f.down, 0) AS feedback_down
FROM bots AS b
LEFT JOIN q ON q.bot_id = b.id
LEFT JOIN f ON f.bot_id = b.id
WHERE q.bot_id IS NOT NULL OR f.bot_id IS NOT NULL
ORDER BY b.slug
"""

# The most asked questions per bot: the same question differing only in case or
# spacing counts as one, shown in its most frequent spelling.
_TOP = """
SELECT bot_id, question, n FROM (
    SELECT bot_id,
           mode() WITHIN GROUP (ORDER BY question) AS question,
           count(*) AS n,
           row_number() OVER (
               PARTITION BY bot_id ORDER BY count(*) DESC, min(created_at)
           ) AS rank
    FROM (
        SELECT bot_id, question, created_at,
               lower(regexp_replace(btrim(question), '\\s+', ' ', 'g')) AS normalized
        FROM messages WHERE created_at >= %(start)s AND created_at < %(end)s
    ) AS asked
    GROUP BY bot_id, normalized
) AS ranked
WHERE rank <= %(top)s
ORDER BY bot_id, rank
"""


async def owners_with_activity(
    pool: AsyncConnectionPool, start: datetime, end: datetime
) -> list[str]:
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT owner_id FROM digest_owners(%s, %s) ORDER BY owner_id", (start, end)
        )
        return [str(row[0]) for row in await cur.fetchall()]


async def compile_owner(
    pool: AsyncConnectionPool,
    owner: str,
    day: date,
    start: datetime,
    end: datetime,
    *,
    sink: str | None = None,
) -> list[str]:
    """The digests of one owner's bots for ``day`` (one unit of work, its events sent
    to ``sink`` after the commit); returns the ids of new events."""
    window = {"start": start, "end": end, "top": TOP_QUESTIONS}
    event_ids: list[str] = []
    async with unit_of_work(pool, sink=sink, user=owner) as uow:
        conn = uow.conn
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(_COUNTS, window)
        bots = await cur.fetchall()
        if not bots:
            return []
        await cur.execute(_TOP, window)
        top: dict[str, list[dict[str, Any]]] = {}
        for row in await cur.fetchall():
            top.setdefault(str(row["bot_id"]), []).append(
                {"question": row["question"], "count": int(row["n"])}
            )
        for bot in bots:
            bot_id = str(bot["id"])
            claimed = await conn.execute(
                "INSERT INTO digests (bot_id, bot_owner_id, day) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (bot_id, owner, day),
            )
            if claimed.rowcount != 1:
                continue  # compiled by an earlier (or concurrent) run
            event = await uow.record(
                COMPILED,
                SOURCE,
                {
                    "bot_id": bot_id,
                    "bot_slug": bot["slug"],
                    "bot_name": bot["name"],
                    "owner_id": owner,
                    "day": day.isoformat(),
                    "questions": int(bot["questions"]),
                    "unanswered": int(bot["unanswered"]),
                    "feedback_up": int(bot["feedback_up"]),
                    "feedback_down": int(bot["feedback_down"]),
                    "top_questions": top.get(bot_id, []),
                },
                subject=bot_id,
            )
            await conn.execute(
                "UPDATE digests SET event_id = %s WHERE bot_id = %s AND day = %s",
                (event.id, bot_id, day),
            )
            event_ids.append(event.id)
    return event_ids


async def compile_day(
    pool: AsyncConnectionPool, day: date, timezone: str, *, sink: str | None = None
) -> list[str]:
    """Every digest of ``day`` (in ``timezone``) not compiled yet; returns new event ids.

    One transaction per owner: a failure leaves the others' digests recorded, and the
    retried run compiles only what is missing.
    """
    start, end = day_window(day, timezone)
    event_ids: list[str] = []
    for owner in await owners_with_activity(pool, start, end):
        event_ids += await compile_owner(pool, owner, day, start, end, sink=sink)
    log.info(
        "digests compiled",
        extra={"day": day.isoformat(), "events": len(event_ids)},
    )
    return event_ids
