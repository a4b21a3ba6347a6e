"""What visitors ask a bot, for its owner: questions per day, top questions (normalised
and grouped), unanswered questions, the feedback ratio, and how often the bot appeared in
talent searches and was asked from them (shared/talent/appearances.py).

Reads ``messages`` and ``feedback`` as the bot's owner (row-level security on
``bot_owner_id``); days are quota days (Asia/Seoul by default), so "today" means the
same thing here as in the quotas and the digest.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar

from psycopg_pool import AsyncConnectionPool
from pydantic import Field

from shared.accounts.principal import Principal
from shared.api.contract import Query, QueryInt, Reply
from shared.bots.owned import bot_owner, owned_bot_id
from shared.talent.appearances import Appearances, appearances

MAX_DAYS = 90
# Days are quota days; questions are grouped with lower case, punctuation and runs of
# spaces folded ("Where did he study?" and "where did he study" are one question), and
# shown as first asked.
_PER_DAY = """
SELECT (created_at AT TIME ZONE %(tz)s)::date AS day, count(*),
       count(*) FILTER (WHERE NOT answerable)
FROM messages
WHERE bot_id = %(bot)s AND (created_at AT TIME ZONE %(tz)s)::date >= %(since)s
GROUP BY day ORDER BY day
"""
_TOP = """
SELECT btrim(regexp_replace(lower(question), '[[:punct:][:space:]]+', ' ', 'g')) AS q,
       count(*), (array_agg(question ORDER BY created_at))[1], max(created_at),
       bool_or(answerable)
FROM messages
WHERE bot_id = %(bot)s AND (created_at AT TIME ZONE %(tz)s)::date >= %(since)s
GROUP BY q ORDER BY count(*) DESC, max(created_at) DESC LIMIT 10
"""
_UNANSWERED = """
SELECT btrim(regexp_replace(lower(question), '[[:punct:][:space:]]+', ' ', 'g')) AS q,
       count(*), (array_agg(question ORDER BY created_at))[1], max(created_at)
FROM messages
WHERE bot_id = %(bot)s AND NOT answerable
  AND (created_at AT TIME ZONE %(tz)s)::date >= %(since)s
GROUP BY q ORDER BY max(created_at) DESC LIMIT 20
"""


class InsightsQuery(Query):
    codes: ClassVar = {"days": "bad_days"}
    days: Annotated[QueryInt, Field(ge=1, le=MAX_DAYS, description="How many days back")] = 30


class DayCount(Reply):
    day: date
    questions: int
    unanswered: int


class Totals(Reply):
    questions: int
    unanswered: int


class TopQuestion(Reply):
    question: str
    count: int
    last_asked_at: datetime
    answerable: bool


class Unanswered(Reply):
    question: str
    count: int
    asked_at: datetime


class FeedbackCounts(Reply):
    up: int
    down: int
    ratio: float | None = Field(description="up / (up + down); null without feedback")


class InsightsView(Reply):
    bot: str
    timezone: str
    days: list[DayCount]
    totals: Totals
    top_questions: list[TopQuestion]
    unanswered: list[Unanswered]
    feedback: FeedbackCounts
    appearances: Appearances = Field(
        description="In talent searches over the same days: how often, for which criteria, "
        "and the questions then asked from them (aggregates only, never who searched)"
    )


class InsightsService:
    def __init__(self, pool: AsyncConnectionPool, *, timezone: str = "Asia/Seoul") -> None:
        self.pool = pool
        self.timezone = timezone

    async def insights(self, principal: Principal, slug: str, days: int = 30) -> dict[str, Any]:
        owner = bot_owner(principal)
        async with self.pool.connection() as conn, conn.transaction():
            bot_id = await owned_bot_id(conn, owner, slug)
            cur = await conn.execute("SELECT (now() AT TIME ZONE %s)::date", (self.timezone,))
            today_row = await cur.fetchone()
            assert today_row is not None
            today: date = today_row[0]
            since = today - timedelta(days=days - 1)
            window = {"bot": bot_id, "tz": self.timezone, "since": since}
            cur = await conn.execute(_PER_DAY, window)
            per_day = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
            cur = await conn.execute(_TOP, window)
            top = [
                {
                    "question": r[2],
                    "count": r[1],
                    "last_asked_at": r[3].isoformat(),
                    "answerable": r[4],
                }
                for r in await cur.fetchall()
            ]
            cur = await conn.execute(_UNANSWERED, window)
            unanswered = [
                {"question": r[2], "count": r[1], "asked_at": r[3].isoformat()}
                for r in await cur.fetchall()
            ]
            cur = await conn.execute(
                "SELECT count(*) FILTER (WHERE rating = 'up'), "
                "count(*) FILTER (WHERE rating = 'down') FROM feedback "
                "WHERE bot_id = %(bot)s "
                "AND (updated_at AT TIME ZONE %(tz)s)::date >= %(since)s",
                window,
            )
            fb = await cur.fetchone()
            appeared = await appearances(
                conn, bot=bot_id, timezone=self.timezone, since=since, today=today
            )
        assert fb is not None
        up, down = fb
        days_view = []
        for i in range(days):
            day = since + timedelta(days=i)
            questions, unanswered_count = per_day.get(day, (0, 0))
            days_view.append(
                {"day": day.isoformat(), "questions": questions, "unanswered": unanswered_count}
            )
        return {
            "bot": slug,
            "timezone": self.timezone,
            "days": days_view,
            "totals": {
                "questions": sum(d["questions"] for d in days_view),
                "unanswered": sum(d["unanswered"] for d in days_view),
            },
            "top_questions": top,
            "unanswered": unanswered,
            "feedback": {
                "up": up,
                "down": down,
                "ratio": round(up / (up + down), 4) if up + down else None,
            },
            "appearances": appeared,
        }
