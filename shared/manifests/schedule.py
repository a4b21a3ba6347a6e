"""PingSource schedules, checked the way Knative's cron parser reads them.

Knative (robfig/cron) accepts five fields ``MIN HOUR DOM MON DOW`` or six with the
SECONDS FIRST ``SEC MIN HOUR DOM MON DOW``, and the descriptors ``@yearly``,
``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight`` and ``@hourly``.
``@every <duration>`` is refused, and so is a ``TZ=``/``CRON_TZ=`` prefix: the zone
belongs in ``spec.timezone``. Each field is a comma list of ``*``, ``?`` (day fields),
``N``, ``N-M``, each optionally ``/STEP``; months and weekdays also take names
(``JAN``, ``MON``). Day of week runs 0..6 with 0 = Sunday.

croniter, which the local runtime schedules with, puts seconds LAST in six-field
expressions by default: :func:`croniter_args` gives the arguments that keep Knative's
meaning.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]
    question_mark: bool = False


_SECOND = _Field("second", 0, 59, {})
_MINUTE = _Field("minute", 0, 59, {})
_HOUR = _Field("hour", 0, 23, {})
_DOM = _Field("day of month", 1, 31, {}, question_mark=True)
_MONTH = _Field("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)})
_DOW = _Field("day of week", 0, 6, {n: i for i, n in enumerate(_DAYS)}, question_mark=True)

_FIVE = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)
_SIX = (_SECOND, *_FIVE)
_SIX_HINT = " (six-field schedules put SECONDS FIRST: 'SEC MIN HOUR DOM MON DOW')"


class ScheduleError(ValueError):
    """A schedule Knative would refuse; the message says which field and why."""


def check_schedule(schedule: str) -> None:
    """Raise ScheduleError unless Knative's PingSource accepts ``schedule``."""
    text = schedule.strip()
    if not text:
        raise ScheduleError("schedule is empty")
    first = text.split()[0]
    if first.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ScheduleError(f"{first!r} prefix is not allowed; set spec.timezone instead")
    if text.startswith("@"):
        if text.startswith("@every"):
            raise ScheduleError(
                f"{text!r}: @every is not allowed; write a cron expression (e.g. '*/5 * * * *')"
            )
        if text not in DESCRIPTORS:
            raise ScheduleError(f"unknown descriptor {text!r} (allowed: {', '.join(DESCRIPTORS)})")
        return
    parts = text.split()
    fields: tuple[_Field, ...]
    if len(parts) == 5:
        fields, hint = _FIVE, ""
    elif len(parts) == 6:
        fields, hint = _SIX, _SIX_HINT
    else:
        raise ScheduleError(
            f"{text!r} has {len(parts)} fields; expected 5 (MIN HOUR DOM MON DOW) "
            "or 6 with seconds first (SEC MIN HOUR DOM MON DOW)"
        )
    for spec, part in zip(fields, parts, strict=True):
        try:
            _check_field(spec, part)
        except ScheduleError as exc:
            raise ScheduleError(f"{text!r}: {exc}{hint}") from None


def _check_field(spec: _Field, expr: str) -> None:
    for item in expr.split(","):
        if not item:
            raise ScheduleError(f"{spec.name} field {expr!r} has an empty list item")
        span, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise ScheduleError(f"{spec.name}: step {step!r} must be a positive integer")
        if span == "*":
            continue
        if span == "?":
            if not spec.question_mark:
                raise ScheduleError(f"{spec.name}: '?' is only allowed in day fields")
            continue
        low_text, dash, high_text = span.partition("-")
        low = _value(spec, low_text)
        high = _value(spec, high_text) if dash else low
        if low > high:
            raise ScheduleError(f"{spec.name}: range {span!r} starts after it ends")


def _value(spec: _Field, text: str) -> int:
    if text.upper() in spec.names:
        return spec.names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"{spec.name}: {text!r} is not a number")
    value = int(text)
    if not spec.low <= value <= spec.high:
        extra = " (0 is Sunday)" if spec is _DOW else ""
        raise ScheduleError(f"{spec.name}: {value} is outside {spec.low}..{spec.high}{extra}")
    return value


def check_timezone(name: str) -> None:
    """Raise ScheduleError unless ``name`` is an IANA time zone (e.g. Asia/Seoul)."""
    if name not in _zones():
        raise ScheduleError(f"{name!r} is not an IANA time zone name (e.g. 'Asia/Seoul', 'UTC')")


@functools.cache
def _zones() -> set[str]:
    return zoneinfo.available_timezones()


def croniter_args(schedule: str) -> tuple[str, bool]:
    """``(expression, second_at_beginning)`` for croniter, with Knative's meaning kept."""
    check_schedule(schedule)
    text = " ".join(schedule.split())
    return text, len(text.split()) == 6
