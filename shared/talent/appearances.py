"""How often an owner's bot appeared in talent searches, for which criteria, and how
often someone then asked it from the search's "ask this person" link: the appearances
section of the owner's insights (issue #18).

Read as the bot's owner: ``talent_appearances`` (one row per person shown by a search,
migration 0011) under its owner policy, and the questions marked ``source = 'talent'``
(migration 0013) under the messages' owner policy. Aggregates only: the rows hold no
searcher, and nothing here names a search, a searcher or an asker. The window is the
insights' own: the quota days (Asia/Seoul by default) from ``since`` to today; weeks are
ISO weeks (Monday first) in the same time zone, the first one counted from ``since``.

Imports nothing of the search itself (its parser pulls in Korean morphology, which the
insights image does not carry): the kinds are repeated here, and a test keeps them equal
to the talent contract's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from pydantic import Field

from shared.api.contract import Reply

Kind = Literal["must", "nice", "exclude"]
TOP_CRITERIA = 10

# The window starts at its first day's midnight (an instant, so that the (bot_id,
# created_at) indexes bound the scan). Per ISO week and, in the row whose week is NULL,
# over the whole window.
_APPEARED = """
SELECT date_trunc('week', created_at AT TIME ZONE %(tz)s)::date AS week,
       count(*), count(DISTINCT search_id),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY rank), min(rank)
FROM talent_appearances
WHERE bot_id = %(bot)s AND created_at >= %(start)s
GROUP BY ROLLUP (week)
"""
_ASKED = """
SELECT date_trunc('week', created_at AT TIME ZONE %(tz)s)::date AS week,
       count(*), count(DISTINCT conversation_id), count(DISTINCT asker)
FROM messages
WHERE bot_id = %(bot)s AND source = 'talent' AND created_at >= %(start)s
GROUP BY ROLLUP (week)
"""
# A criterion is its text with case and runs of spaces folded, and its kind; counted once
# per appearance (with the best verdict, should a search have held it twice), shown as
# first written.
_CRITERIA = """
WITH items AS (
    SELECT DISTINCT ON (a.search_id, k.key, c.item->>'kind')
           a.created_at, c.item->>'text' AS text, k.key, c.item->>'kind' AS kind,
           c.item->>'verdict' AS verdict
    FROM talent_appearances AS a
    CROSS JOIN LATERAL jsonb_array_elements(a.criteria) AS c (item)
    CROSS JOIN LATERAL (
        SELECT btrim(regexp_replace(lower(c.item->>'text'), '[[:space:]]+', ' ', 'g')) AS key
    ) AS k
    WHERE a.bot_id = %(bot)s AND a.created_at >= %(start)s
      AND c.item->>'text' IS NOT NULL AND c.item->>'kind' IS NOT NULL
    ORDER BY a.search_id, k.key, c.item->>'kind',
             array_position(ARRAY['met', 'partial', 'missing'], c.item->>'verdict')
)
SELECT kind, (array_agg(text ORDER BY created_at))[1], count(*),
       count(*) FILTER (WHERE verdict = 'met'),
       count(*) FILTER (WHERE verdict = 'partial'),
       count(*) FILTER (WHERE verdict = 'missing')
FROM items
GROUP BY key, kind
ORDER BY count(*) DESC, max(created_at) DESC, key, kind
LIMIT %(top)s
"""


class VerdictCounts(Reply):
    met: int
    partial: int
    missing: int


class CriterionAppearances(Reply):
    text: str = Field(description="As first written (grouped by case and spacing)")
    kind: Kind
    appearances: int = Field(description="Appearances in a search that held this criterion")
    verdicts: VerdictCounts = Field(description="How the bot's documents met it, then")


class WeekAppearances(Reply):
    week: Annotated[str, Field(pattern=r"^[0-9]{4}-W[0-9]{2}$", description="ISO week")]
    starts: date = Field(description="Its first day in the window: its Monday, or the window's")
    appearances: int
    asked: int = Field(description="Questions asked from talent search that week")


class AskedFromTalent(Reply):
    questions: int = Field(description="Questions asked from a talent search's link")
    conversations: int
    askers: int = Field(description="How many different askers (a count, never who)")


class Appearances(Reply):
    appearances: int = Field(description="Times the bot was shown in a talent search")
    searches: int = Field(description="Distinct searches that showed it")
    median_rank: float | None = Field(description="1 is first; null without appearances")
    best_rank: int | None
    weeks: list[WeekAppearances]
    criteria: list[CriterionAppearances] = Field(
        description=f"The {TOP_CRITERIA} criteria it appeared for most often"
    )
    asked: AskedFromTalent


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


async def appearances(
    conn: AsyncConnection, *, bot: str, timezone: str, since: date, today: date
) -> dict[str, Any]:
    """The section for ``bot`` from ``since`` to ``today`` (quota days); ``conn`` is in a
    transaction scoped to the bot's owner."""
    start = datetime.combine(since, time(), ZoneInfo(timezone))
    window = {"bot": bot, "tz": timezone, "start": start, "top": TOP_CRITERIA}
    cur = await conn.execute(_APPEARED, window)
    appeared = {row[0]: row[1:] for row in await cur.fetchall()}
    cur = await conn.execute(_ASKED, window)
    asked = {row[0]: row[1:] for row in await cur.fetchall()}
    cur = await conn.execute(_CRITERIA, window)
    criteria = [
        {
            "text": text,
            "kind": kind,
            "appearances": count,
            "verdicts": {"met": met, "partial": partial, "missing": missing},
        }
        for kind, text, count, met, partial, missing in await cur.fetchall()
    ]
    total, searches, median, best = appeared.get(None, (0, 0, None, None))
    questions, conversations, askers = asked.get(None, (0, 0, 0))
    weeks = []
    monday = since - timedelta(days=since.weekday())
    while monday <= today:
        weeks.append(
            {
                "week": iso_week(monday),
                "starts": max(monday, since).isoformat(),
                "appearances": appeared.get(monday, (0,))[0],
                "asked": asked.get(monday, (0,))[0],
            }
        )
        monday += timedelta(days=7)
    return {
        "appearances": total,
        "searches": searches,
        "median_rank": None if median is None else round(float(median), 2),
        "best_rank": best,
        "weeks": weeks,
        "criteria": criteria,
        "asked": {"questions": questions, "conversations": conversations, "askers": askers},
    }
