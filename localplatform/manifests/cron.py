"""The schedule grammar of Knative PingSources (robfig/cron, as Knative runs it): parsing
``spec.schedule`` and ``spec.timezone`` and computing fire times. Pure: no I/O, no clock.

Schedule grammar (what Knative's ``robfig/cron`` parser accepts, minus ``@every``):

* 5 fields ``minute hour day-of-month month day-of-week``, or 6 fields whose extra field
  is SECONDS and comes FIRST: ``"*/10 * * * * *"`` fires every ten seconds. (croniter on
  its own reads a 6th field as seconds *last*; that reading is never used here.)
* each field is a comma list of ``*``, ``N``, ``N-M``, each optionally ``/STEP``;
  ``N/STEP`` means ``N-max/STEP``. Months take ``JAN``-``DEC``, days of week ``SUN``-``SAT``
  (case-insensitive); day-of-week is 0-6 (7 is refused, as Knative's cron parser
  refuses it). ``?`` may stand alone for day-of-month
  or day-of-week and means ``*``. Quartz extensions (``L``, ``W``, ``#``, ``H``) are refused.
* macros ``@yearly @annually @monthly @weekly @daily @midnight @hourly``;
  ``@every <duration>`` is refused.
* day-of-month and day-of-week combine like cron: if either is ``*`` (or ``?``), both
  must match; if both are restricted, either may match.

Time zones and daylight saving time (the behaviour of robfig/cron, which Knative runs):

* the schedule is matched against the wall clock of ``spec.timezone`` (default UTC);
* a wall time that does not exist (the spring-forward gap) is SKIPPED: ``30 2 * * *`` in
  America/New_York does not fire on the spring-forward day at all;
* a wall time that happens twice (the fall-back overlap) fires at BOTH instants:
  ``30 1 * * *`` in America/New_York fires at 05:30 and 06:30 UTC on the fall-back day,
  and ``*/15 * * * *`` keeps firing every 15 minutes through the repeated hour.

Fire times are returned as aware UTC datetimes.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

__all__ = ["Schedule", "ScheduleError", "as_utc", "check_timezone", "parse_schedule"]


class ScheduleError(ValueError):
    """``spec.schedule`` or ``spec.timezone`` is invalid.

    ``field`` names the part that is wrong (``"day-of-week"``, ``"timezone"``, ...) and
    ``value`` the text that was refused, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, value: str | None = None):
        super().__init__(message)
        self.field = field
        self.value = value


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)
    question_mark: bool = False

    def names_range(self) -> str:
        names = list(self.names)
        return f"{names[0]}-{names[-1]}" if names else ""

    def describe_range(self) -> str:
        text = f"{self.low}-{self.high}"
        return f"{text} or {self.names_range()}" if self.names else text


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
_WEEKDAYS = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
}

_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, question_mark=True)
_MONTH = _Field("month", 1, 12, names=_MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 0, 6, names=_WEEKDAYS, question_mark=True)

_FIVE = (_MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK)
_SIX = (_SECOND, *_FIVE)
_LAYOUT_5 = "minute hour day-of-month month day-of-week"
_LAYOUT_6 = "second minute hour day-of-month month day-of-week"

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Longest month length per month (February may have 29 days).
_MONTH_DAYS = dict(zip(range(1, 13), (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True))
_INTEGER = re.compile(r"[0-9]+")
# Far longer than any real clock set-back; only bounds the search for a start point.
_MAX_OVERLAP = timedelta(days=8)


@dataclass(frozen=True)
class _ParsedField:
    star: bool
    values: frozenset[int]

    def token(self) -> str:
        # Explicit lists, never ranges: croniter reads an equal range ("1-1") as the
        # whole cycle, so every value is spelled out.
        return "*" if self.star else ",".join(str(v) for v in sorted(self.values))


@dataclass(frozen=True)
class Schedule:
    """A validated PingSource schedule. Build it with :func:`parse_schedule`.

    ``expression`` is the schedule as written; ``normalized`` is the equivalent croniter
    expression (explicit value lists, seconds FIRST when ``has_seconds``).
    """

    expression: str
    normalized: str
    has_seconds: bool

    def iter_after(self, after: datetime, tz: str | ZoneInfo) -> Iterator[datetime]:
        """Yield the fire times strictly after ``after``, in order, as aware UTC datetimes."""
        zone = tz if isinstance(tz, ZoneInfo) else check_timezone(tz)
        after_utc = as_utc(after, "after")
        return self._fires(after_utc, zone)

    def next_after(self, after: datetime, tz: str | ZoneInfo) -> datetime:
        """The first fire time strictly after ``after`` (aware), as an aware UTC datetime."""
        return next(self.iter_after(after, tz))

    def fires_between(self, start: datetime, end: datetime, tz: str | ZoneInfo) -> list[datetime]:
        """Every fire time ``t`` with ``start < t <= end`` (both aware), oldest first.

        The interval is half-open on the left so that consecutive calls with
        ``(previous_end, now]`` neither repeat nor miss a fire. Empty when ``end <= start``.
        """
        end_utc = as_utc(end, "end")
        fires: list[datetime] = []
        if end_utc <= as_utc(start, "start"):
            return fires
        for fire in self.iter_after(start, tz):
            if fire > end_utc:
                break
            fires.append(fire)
        return fires

    def _fires(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        # Matching is done on naive wall-clock times of ``zone`` (croniter, no DST), and
        # each matching wall time is then mapped to its instants: none in a DST gap, two
        # in a DST overlap. Mapping with fold=0 (earliest instant) and with fold=1 (latest)
        # are each monotonic in the wall time, which gives a safe place to start and lets
        # a small heap put the instants of an overlap back in order.
        wall = after.astimezone(zone).replace(tzinfo=None, fold=0)
        start = wall
        margin = timedelta(hours=1)
        while max(_instant(start, zone, 0), _instant(start, zone, 1)) > after:
            # ``after`` lies in an overlap: earlier wall times can still fire later.
            if margin > _MAX_OVERLAP:  # pragma: no cover - no zone repeats days
                break
            start = wall - margin
            margin *= 2
        candidates = croniter(
            self.normalized,
            start_time=start,
            ret_type=datetime,
            day_or=True,
            second_at_beginning=self.has_seconds,
        )
        pending: list[datetime] = []
        while True:
            try:
                candidate = candidates.get_next()
            except CroniterBadDateError as exc:
                raise ScheduleError(
                    f'schedule "{self.expression}" has no fire time after {after.isoformat()}',
                    field="schedule",
                    value=self.expression,
                ) from exc
            instants = _instants(candidate, zone)
            for instant in instants:
                if instant > after:
                    heapq.heappush(pending, instant)
            if instants:
                # Every later wall time maps at or after this one's earliest instant.
                while pending and pending[0] <= instants[0]:
                    yield heapq.heappop(pending)


def as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")
    return moment.astimezone(UTC)


def _instant(wall: datetime, zone: ZoneInfo, fold: int) -> datetime:
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


def _instants(wall: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The instants at which ``zone``'s clock shows ``wall``: 0 (gap), 1, or 2 (overlap)."""
    first = _instant(wall, zone, 0)
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        return ()
    second = _instant(wall, zone, 1)
    return (first,) if second == first else (first, second)


def parse_schedule(schedule: str) -> Schedule:
    """Validate a PingSource ``spec.schedule`` and return it as a :class:`Schedule`.

    Raises :class:`ScheduleError` naming the field, the value and the reason.
    """
    if not isinstance(schedule, str):
        raise ScheduleError(
            f"schedule must be a string, got {type(schedule).__name__}", field="schedule"
        )
    expression = schedule.strip()
    tokens = expression.split()
    if not tokens:
        raise ScheduleError("schedule is empty", field="schedule", value=schedule)
    head = tokens[0]
    if head.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ScheduleError(
            f'schedule "{expression}": a time zone prefix ("{head}") is not allowed in the '
            "schedule; set spec.timezone instead",
            field="schedule",
            value=head,
        )
    if head.startswith("@"):
        return _parse_macro(expression, tokens)
    if len(tokens) not in (5, 6):
        raise ScheduleError(
            f'schedule "{expression}" has {len(tokens)} fields; expected 5 ({_LAYOUT_5}) '
            f"or 6 with seconds first ({_LAYOUT_6})",
            field="schedule",
            value=expression,
        )
    layout = _SIX if len(tokens) == 6 else _FIVE
    parsed = [
        _parse_field(expression, token, spec, position, len(tokens))
        for position, (token, spec) in enumerate(zip(tokens, layout, strict=True), start=1)
    ]
    by_name = dict(zip((spec.name for spec in layout), parsed, strict=True))
    _check_day_exists(expression, by_name)
    return Schedule(
        expression=expression,
        normalized=" ".join(p.token() for p in parsed),
        has_seconds=len(tokens) == 6,
    )


def _parse_macro(expression: str, tokens: list[str]) -> Schedule:
    head = tokens[0]
    if head.lower() == "@every":
        raise ScheduleError(
            f'schedule "{expression}": "@every <duration>" is not supported; write a cron '
            'expression instead, e.g. "*/5 * * * *" for every 5 minutes or '
            '"*/30 * * * * *" for every 30 seconds',
            field="schedule",
            value=head,
        )
    allowed = " ".join(_MACROS)
    if head not in _MACROS:
        raise ScheduleError(
            f'schedule "{expression}": unknown macro "{head}"; allowed: {allowed}',
            field="schedule",
            value=head,
        )
    if len(tokens) > 1:
        raise ScheduleError(
            f'schedule "{expression}": macro "{head}" takes no further fields',
            field="schedule",
            value=expression,
        )
    parsed = parse_schedule(_MACROS[head])
    return Schedule(expression=expression, normalized=parsed.normalized, has_seconds=False)


def _parse_field(
    expression: str, token: str, spec: _Field, position: int, total: int
) -> _ParsedField:
    def fail(reason: str, value: str = token) -> ScheduleError:
        message = f'schedule "{expression}": {spec.name} (field {position} of {total}) {reason}'
        if total == 6 and spec is _DAY_OF_WEEK:
            message += f"; a 6-field schedule puts seconds FIRST: {_LAYOUT_6}"
        return ScheduleError(message, field=spec.name, value=value)

    if token == "?":  # noqa: S105 - a cron token, not a password
        if not spec.question_mark:
            raise fail('"?" is only allowed in day-of-month and day-of-week')
        return _ParsedField(star=True, values=frozenset(range(spec.low, spec.high + 1)))

    star = False
    values: set[int] = set()
    for term in token.split(","):
        if not term:
            raise fail(f'"{token}" has an empty list element')
        base, slash, step_text = term.partition("/")
        step = 1
        if slash:
            if not _INTEGER.fullmatch(step_text):
                raise fail(f'step "{step_text}" in "{term}" is not a positive integer', step_text)
            step = int(step_text)
            if step == 0:
                raise fail(f'step 0 in "{term}" must be at least 1', step_text)
        if base == "?":
            raise fail(f'"?" must stand alone, not in "{term}"', term)
        if base == "*":
            low, high = spec.low, spec.high
            star = star or step == 1
        elif "-" in base:
            first, _, last = base.partition("-")
            if not first or not last or "-" in last:
                raise fail(f'range "{base}" must be written N-M', base)
            low = _parse_value(first, spec, fail)
            high = _parse_value(last, spec, fail)
            if low > high:
                raise fail(f'range "{base}" runs backwards ({low} > {high})', base)
        else:
            low = _parse_value(base, spec, fail)
            high = spec.high if slash else low
        values.update(range(low, high + 1, step))
    return _ParsedField(star=star, values=frozenset(values))


def _parse_value(text: str, spec: _Field, fail: Callable[[str, str], ScheduleError]) -> int:
    if _INTEGER.fullmatch(text):
        value = int(text)
    elif text.upper() in spec.names:
        value = spec.names[text.upper()]
    else:
        if spec.names:
            expected = f"a number {spec.low}-{spec.high} or a name {spec.names_range()}"
        else:
            expected = f"a number {spec.low}-{spec.high}"
        raise fail(f'value "{text}" is not {expected}', text)
    if not spec.low <= value <= spec.high:
        raise fail(f"value {text} is out of range {spec.describe_range()}", text)
    return value


def _check_day_exists(expression: str, fields: Mapping[str, _ParsedField]) -> None:
    """Refuse a day-of-month that no listed month has (``0 0 30 2 *``): it never fires."""
    dom, month, dow = fields["day-of-month"], fields["month"], fields["day-of-week"]
    if dom.star or month.star or not dow.star:
        return  # with a restricted day-of-week, either day field may match
    longest = max(_MONTH_DAYS[m] for m in month.values)
    if min(dom.values) > longest:
        days = ",".join(str(d) for d in sorted(dom.values))
        months = ",".join(str(m) for m in sorted(month.values))
        raise ScheduleError(
            f'schedule "{expression}": day-of-month {days} never occurs in month {months}, '
            "so the schedule would never fire",
            field="day-of-month",
            value=days,
        )


def check_timezone(name: str) -> ZoneInfo:
    """Resolve an IANA time zone name (``spec.timezone``), or raise :class:`ScheduleError`."""
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(
            f'timezone must be a non-empty IANA name such as "Asia/Seoul", got {name!r}',
            field="timezone",
            value=str(name),
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            f'unknown timezone "{name}": not an IANA time zone name{_suggest_zone(name)}',
            field="timezone",
            value=name,
        ) from exc


def _suggest_zone(name: str) -> str:
    import difflib
    import zoneinfo

    try:
        known = zoneinfo.available_timezones()
    except OSError:  # pragma: no cover - tzdata always ships with the project
        return ""
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.75)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
