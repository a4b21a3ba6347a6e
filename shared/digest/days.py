"""Which day a digest covers, and that day's window as instants. Pure; no I/O."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.errors import BadRequest
from shared.events.cloudevent import CloudEvent


def previous_day(now: datetime, timezone: str) -> date:
    """The day before ``now``'s day in ``timezone`` (the day a digest at ``now`` covers)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def day_window(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of ``day`` in ``timezone``, as UTC instants."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def requested_day(event: CloudEvent, timezone: str, now: datetime | None = None) -> date:
    """The day a digest trigger asks for.

    A PingSource event covers the day before its fire time (its ``time`` attribute, so
    a late or retried delivery still covers the right day). Its data may name a past
    day instead, ``{"day": "YYYY-MM-DD"}``, to re-run or backfill one: refused (400)
    when malformed, today or in the future.
    """
    now = now or datetime.now(UTC)
    data = None
    if event.data:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise BadRequest("the trigger's data is not JSON", code="invalid_digest_day") from None
    if isinstance(data, dict) and "day" in data:
        raw = data["day"]
        try:
            if not isinstance(raw, str) or len(raw) != 10:
                raise ValueError
            day = date.fromisoformat(raw)
        except ValueError:
            raise BadRequest("day must be a date, YYYY-MM-DD", code="invalid_digest_day") from None
        if day > previous_day(now, timezone):
            raise BadRequest(
                f"day {day} has not ended yet in {timezone}", code="invalid_digest_day"
            )
        return day
    fired = now
    if "time" in event.attributes:
        fired = datetime.fromisoformat(event.attributes["time"].replace("Z", "+00:00"))
    return previous_day(fired, timezone)
