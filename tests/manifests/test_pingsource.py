"""PingSource semantics: schedules, time zones, DST, manifests and event attributes."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from localplatform.manifests.pingsource import (
    PING_EVENT_TYPE,
    PingSourceError,
    PingSourceSpec,
    ScheduleError,
    check_timezone,
    parse_schedule,
    ping_event_attributes,
    ping_event_source,
)

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def kst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=SEOUL)


# ----------------------------------------------------------------- time zones


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # 23:59:59 KST on the 14th: midnight KST of the 15th is 15:00 UTC on the 14th.
        (kst(2024, 3, 14, 23, 59, 59), utc(2024, 3, 14, 15, 0)),
        (kst(2024, 3, 14, 23, 59, 59, 999999), utc(2024, 3, 14, 15, 0)),
        # Exactly on a fire: strictly after, so the next day.
        (kst(2024, 3, 15, 0, 0, 0), utc(2024, 3, 15, 15, 0)),
        (kst(2024, 3, 15, 0, 0, 0, 1), utc(2024, 3, 15, 15, 0)),
        # The same instants given in UTC give the same answers.
        (utc(2024, 3, 14, 14, 59, 59), utc(2024, 3, 14, 15, 0)),
        (utc(2024, 3, 14, 15, 0, 0), utc(2024, 3, 15, 15, 0)),
        # Across a month and a year boundary.
        (kst(2024, 12, 31, 12, 0), utc(2024, 12, 31, 15, 0)),
    ],
)
def test_daily_midnight_in_seoul_fires_at_1500_utc_the_day_before(
    after: datetime, expected: datetime
) -> None:
    fire = parse_schedule("0 0 * * *").next_after(after, "Asia/Seoul")
    assert fire == expected
    assert fire.tzinfo is UTC
    assert fire.astimezone(SEOUL).hour == 0


def test_nine_am_seoul_is_midnight_utc() -> None:
    schedule = parse_schedule("0 9 * * *")
    assert schedule.next_after(utc(2024, 6, 1, 12), "Asia/Seoul") == utc(2024, 6, 2, 0, 0)
    assert schedule.next_after(kst(2024, 6, 1, 8, 59), SEOUL) == utc(2024, 6, 1, 0, 0)
    # The time zone matters: the same schedule in UTC fires at 09:00 UTC.
    assert schedule.next_after(utc(2024, 6, 1, 0, 0), "UTC") == utc(2024, 6, 1, 9, 0)


@pytest.mark.parametrize("name", ["Asia/Seoul", "UTC", "America/New_York", "Europe/Berlin"])
def test_known_timezones_resolve(name: str) -> None:
    assert check_timezone(name).key == name


def test_misspelt_timezone_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ScheduleError) as info:
        check_timezone("Asia/Seul")
    assert info.value.field == "timezone"
    assert info.value.value == "Asia/Seul"
    assert '"Asia/Seul"' in str(info.value)
    assert "Asia/Seoul" in str(info.value)
    with pytest.raises(ScheduleError, match="Asia/Seul"):
        parse_schedule("0 0 * * *").next_after(utc(2024, 1, 1), "Asia/Seul")


@pytest.mark.parametrize("name", ["", "  ", "Mars/Olympus", "../../etc/passwd", "/etc/localtime"])
def test_bad_timezones_are_refused(name: str) -> None:
    with pytest.raises(ScheduleError) as info:
        check_timezone(name)
    assert info.value.field == "timezone"


# ----------------------------------------------------------------- seconds


def test_seconds_first_every_15_seconds() -> None:
    schedule = parse_schedule("*/15 * * * * *")
    assert schedule.has_seconds
    fires = schedule.fires_between(utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 1, 0, 1, 0), "UTC")
    # (start, end]: 00:00:00 is excluded, 00:01:00 included.
    assert fires == [
        utc(2024, 1, 1, 0, 0, 15),
        utc(2024, 1, 1, 0, 0, 30),
        utc(2024, 1, 1, 0, 0, 45),
        utc(2024, 1, 1, 0, 1, 0),
    ]
    seconds = {f.second for f in schedule.fires_between(utc(2024, 1, 1), utc(2024, 1, 1, 1), "UTC")}
    assert seconds == {0, 15, 30, 45}


def test_every_ten_seconds() -> None:
    schedule = parse_schedule("*/10 * * * * *")
    assert schedule.next_after(utc(2024, 1, 1, 0, 0, 3), "UTC") == utc(2024, 1, 1, 0, 0, 10)
    assert len(schedule.fires_between(utc(2024, 1, 1), utc(2024, 1, 1, 0, 10), "UTC")) == 60


def test_six_fields_put_seconds_first() -> None:
    schedule = parse_schedule("30 0 0 * * *")
    fire = schedule.next_after(utc(2024, 1, 1, 0, 0, 0), "UTC")
    assert fire == utc(2024, 1, 1, 0, 0, 30)  # not 00:30:00 (seconds-last would say so)
    assert schedule.next_after(fire, "UTC") == utc(2024, 1, 2, 0, 0, 30)


def test_a_trailing_sixth_field_is_day_of_week_not_seconds() -> None:
    # "0 0 * * * 1" is second 0, minute 0, every hour, on Mondays (2024-01-01 is one).
    schedule = parse_schedule("0 0 * * * 1")
    assert schedule.next_after(utc(2023, 12, 31, 12), "UTC") == utc(2024, 1, 1, 0, 0, 0)
    assert schedule.next_after(utc(2024, 1, 1, 23, 0), "UTC") == utc(2024, 1, 8, 0, 0, 0)


def test_seconds_last_out_of_range_is_refused_precisely() -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule("0 0 * * * 61")
    error = info.value
    assert error.field == "day-of-week"
    assert error.value == "61"
    message = str(error)
    assert "day-of-week (field 6 of 6)" in message
    assert "61" in message
    assert "0-6" in message
    assert "seconds FIRST" in message


# ----------------------------------------------------------------- macros and shapes


@pytest.mark.parametrize(
    ("macro", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macros(macro: str, equivalent: str) -> None:
    schedule = parse_schedule(macro)
    reference = parse_schedule(equivalent)
    start, end = utc(2023, 12, 1), utc(2025, 2, 1)
    if macro == "@hourly":
        end = utc(2023, 12, 3)
    assert schedule.fires_between(start, end, "Asia/Seoul") == reference.fires_between(
        start, end, "Asia/Seoul"
    )


def test_hourly_fires_on_the_hour() -> None:
    schedule = parse_schedule("@hourly")
    assert schedule.next_after(utc(2024, 5, 5, 10, 0, 1), "UTC") == utc(2024, 5, 5, 11)
    assert len(schedule.fires_between(utc(2024, 5, 5), utc(2024, 5, 6), "Asia/Seoul")) == 24


@pytest.mark.parametrize("schedule", ["@every 1m", "@every 30s", "@every 1h30m", "@EVERY 5m"])
def test_every_is_refused(schedule: str) -> None:
    with pytest.raises(ScheduleError, match="@every") as info:
        parse_schedule(schedule)
    assert info.value.field == "schedule"


@pytest.mark.parametrize(
    ("schedule", "match"),
    [
        ("@reboot", "unknown macro"),
        ("@Daily", "unknown macro"),
        ("@daily 5", "takes no further fields"),
        ("", "empty"),
        ("   ", "empty"),
        ("* * * *", "has 4 fields"),
        ("* * *", "has 3 fields"),
        ("0 0 0 * * * 2024", "has 7 fields"),
        ("TZ=Asia/Seoul 0 0 * * *", "spec.timezone"),
        ("CRON_TZ=UTC 0 0 * * *", "spec.timezone"),
    ],
)
def test_malformed_schedules_are_refused(schedule: str, match: str) -> None:
    with pytest.raises(ScheduleError, match=match):
        parse_schedule(schedule)


@pytest.mark.parametrize(
    ("schedule", "field", "value"),
    [
        ("60 * * * *", "minute", "60"),
        ("* 24 * * *", "hour", "24"),
        ("* * 0 * *", "day-of-month", "0"),
        ("* * 32 * *", "day-of-month", "32"),
        ("* * * 0 *", "month", "0"),
        ("* * * 13 *", "month", "13"),
        ("* * * * 8", "day-of-week", "8"),
        ("60 * * * * *", "second", "60"),
        ("0 60 * * * *", "minute", "60"),
        ("0 0 24 * * *", "hour", "24"),
        ("1-61 * * * *", "minute", "61"),
        ("0 0 * FOO *", "month", "FOO"),
        ("0 0 * * FUNDAY", "day-of-week", "FUNDAY"),
        ("0 0 * JAN-MON *", "month", "MON"),
        ("5-1 * * * *", "minute", "5-1"),
        ("*/0 * * * *", "minute", "0"),
        ("*/x * * * *", "minute", "x"),
        ("1,,2 * * * *", "minute", "1,,2"),
        ("-5 * * * *", "minute", "-5"),
        ("? * * * *", "minute", "?"),
        ("0 0 ?/2 * *", "day-of-month", "?/2"),
        ("0 0 L * *", "day-of-month", "L"),
        ("0 0 * * 5L", "day-of-week", "5L"),
        ("0 0 * * 1#2", "day-of-week", "1#2"),
        ("0 0 15W * *", "day-of-month", "15W"),
        ("H * * * *", "minute", "H"),
        ("0 0 30 2 *", "day-of-month", "30"),
        ("0 0 31 4,6,9,11 *", "day-of-month", "31"),
    ],
)
def test_invalid_fields_are_named(schedule: str, field: str, value: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(schedule)
    assert info.value.field == field
    assert info.value.value == value
    assert field in str(info.value)
    assert schedule.strip() in str(info.value)


def test_out_of_range_message_gives_the_range() -> None:
    with pytest.raises(ScheduleError, match=r"hour \(field 2 of 5\) value 24 is out of range 0-23"):
        parse_schedule("0 24 * * *")
    with pytest.raises(ScheduleError, match=r"month \(field 4 of 5\).*1-12 or JAN-DEC"):
        parse_schedule("0 0 1 13 *")


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        # Names, case-insensitive; 2024-01-05 is a Friday.
        ("0 9 * * MON-FRI", utc(2024, 1, 5, 10), utc(2024, 1, 8, 9)),
        ("0 9 * * mon-fri", utc(2024, 1, 5, 10), utc(2024, 1, 8, 9)),
        ("0 0 1 jan,JUL *", utc(2024, 2, 1), utc(2024, 7, 1)),
        ("0 0 * * 0", utc(2024, 1, 2), utc(2024, 1, 7)),
        ("0 0 * * 5-6", utc(2024, 1, 1), utc(2024, 1, 5)),
        # "?" means "*" in the day fields.
        ("0 12 ? * *", utc(2024, 1, 1, 13), utc(2024, 1, 2, 12)),
        ("0 12 * * ?", utc(2024, 1, 1, 13), utc(2024, 1, 2, 12)),
        # An equal range is that single value (croniter alone would read "1-1" as all days).
        ("0 0 * * 1-1", utc(2024, 1, 2), utc(2024, 1, 8)),
        # N/step is N-max/step.
        ("50/5 * * * *", utc(2024, 1, 1, 0, 56), utc(2024, 1, 1, 1, 50)),
        ("10-20/7 * * * *", utc(2024, 1, 1, 0, 11), utc(2024, 1, 1, 0, 17)),
        # Both day fields restricted: either matches (13th or Friday); 2024-09-06 is a Friday.
        ("0 0 13 * FRI", utc(2024, 9, 1), utc(2024, 9, 6)),
        ("0 0 13 * FRI", utc(2024, 9, 6, 1), utc(2024, 9, 13)),
        ("0 0 13 * FRI", utc(2024, 9, 13, 1), utc(2024, 9, 20)),
        # Only one restricted: it alone decides.
        ("0 0 13 * *", utc(2024, 9, 1), utc(2024, 9, 13)),
        ("0 0 */10 * *", utc(2024, 9, 1, 1), utc(2024, 9, 11)),
        # A 31st skips the months without one; Feb 29 waits for a leap year.
        ("0 0 31 * *", utc(2024, 4, 1), utc(2024, 5, 31)),
        ("0 0 29 2 *", utc(2024, 3, 1), utc(2028, 2, 29)),
        # Day 30 in February alone never fires, but with a weekday it fires on that weekday.
        ("0 0 30 2 MON", utc(2024, 1, 31), utc(2024, 2, 5)),
    ],
)
def test_field_syntax(schedule: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(schedule).next_after(after, "UTC") == expected


def _brute_force(schedule: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """Reference matcher for simple 5-field schedules in a zone without DST."""

    def values(text: str, low: int, high: int) -> set[int]:
        out: set[int] = set()
        for term in text.split(","):
            base, _, step = term.partition("/")
            if base == "*":
                lo, hi = low, high
            elif "-" in base:
                lo, hi = (int(x) for x in base.split("-"))
            else:
                lo = hi = int(base)
            out.update(range(lo, hi + 1, int(step or 1)))
        return out

    minute, hour, dom, month, dow = schedule.split()
    fields = [
        values(minute, 0, 59),
        values(hour, 0, 23),
        values(dom, 1, 31),
        values(month, 1, 12),
        {d % 7 for d in values(dow, 0, 6)},
    ]
    fires = []
    moment = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment <= end:
        wall = moment.astimezone(zone)
        dom_ok = wall.day in fields[2]
        dow_ok = (wall.isoweekday() % 7) in fields[4]
        # Both day fields restricted: either may match; otherwise both must.
        day_ok = (dom_ok or dow_ok) if dom != "*" and dow != "*" else (dom_ok and dow_ok)
        time_ok = wall.minute in fields[0] and wall.hour in fields[1]
        if time_ok and wall.month in fields[3] and day_ok:
            fires.append(moment)
        moment += timedelta(minutes=1)
    return fires


@pytest.mark.parametrize(
    "schedule",
    [
        "*/7 * * * *",
        "5,35 */3 * * *",
        "0 9-17 * * 1-5",
        "15 0 1,15 * 0",
        "0 23 28-31 * *",
        "59 23 * 2,3 6",
        "0 */6 */2 * *",
    ],
)
def test_matches_a_brute_force_reference(schedule: str) -> None:
    start, end = utc(2024, 2, 24, 0, 0), utc(2024, 3, 3, 0, 0)
    expected = _brute_force(schedule, start, end, SEOUL)
    assert expected, "the reference window should contain fires"
    assert parse_schedule(schedule).fires_between(start, end, SEOUL) == expected


# ----------------------------------------------------------------- daylight saving time
#
# Chosen behaviour (that of robfig/cron, which Knative's PingSource adapter runs):
# a wall time skipped by spring-forward does not fire that day; a wall time repeated by
# fall-back fires at both instants.


def test_spring_forward_skips_the_missing_wall_time() -> None:
    # 2024-03-10 in New York: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    schedule = parse_schedule("30 2 * * *")
    fires = schedule.fires_between(utc(2024, 3, 8, 12), utc(2024, 3, 12), "America/New_York")
    assert fires == [
        utc(2024, 3, 9, 7, 30),  # 02:30 EST
        utc(2024, 3, 11, 6, 30),  # 02:30 EDT; nothing on the 10th
    ]
    assert [f.astimezone(NEW_YORK).strftime("%d %H:%M") for f in fires] == ["09 02:30", "11 02:30"]
    # From just before the gap, the next fire is the following day.
    before_gap = datetime(2024, 3, 10, 1, 59, tzinfo=NEW_YORK)
    assert schedule.next_after(before_gap, NEW_YORK) == utc(2024, 3, 11, 6, 30)


def test_spring_forward_hourly_continues_after_the_gap() -> None:
    schedule = parse_schedule("0 * * * *")
    fires = schedule.fires_between(utc(2024, 3, 10, 5, 30), utc(2024, 3, 10, 8, 30), NEW_YORK)
    local = [f.astimezone(NEW_YORK).strftime("%H:%M%z") for f in fires]
    assert local == ["01:00-0500", "03:00-0400", "04:00-0400"]
    # The local day has 23 hours, so 23 hourly fires.
    day = schedule.fires_between(
        datetime(2024, 3, 10, 0, 0, tzinfo=NEW_YORK) - timedelta(seconds=1),
        datetime(2024, 3, 10, 23, 0, tzinfo=NEW_YORK),
        NEW_YORK,
    )
    assert len(day) == 23


def test_fall_back_fires_a_repeated_wall_time_twice() -> None:
    # 2024-11-03 in New York: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    schedule = parse_schedule("30 1 * * *")
    fires = schedule.fires_between(utc(2024, 11, 2), utc(2024, 11, 5), "America/New_York")
    assert fires == [
        utc(2024, 11, 2, 5, 30),
        utc(2024, 11, 3, 5, 30),  # 01:30 EDT
        utc(2024, 11, 3, 6, 30),  # 01:30 EST
        utc(2024, 11, 4, 6, 30),
    ]
    first = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=0)
    assert schedule.next_after(first, NEW_YORK) == utc(2024, 11, 3, 6, 30)
    second = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=1)
    assert schedule.next_after(second, NEW_YORK) == utc(2024, 11, 4, 6, 30)


def test_fall_back_keeps_a_steady_rhythm_through_the_repeated_hour() -> None:
    schedule = parse_schedule("*/20 * * * *")
    fires = schedule.fires_between(utc(2024, 11, 3, 4, 30), utc(2024, 11, 3, 7, 30), NEW_YORK)
    assert fires == [utc(2024, 11, 3, 4, 40) + timedelta(minutes=20 * i) for i in range(9)]
    # From inside the first pass of the repeated hour, wall times earlier than "now"
    # still fire later, in the second pass.
    inside = datetime(2024, 11, 3, 1, 50, tzinfo=NEW_YORK, fold=0)  # 05:50 UTC
    assert schedule.next_after(inside, NEW_YORK) == utc(2024, 11, 3, 6, 0)  # 01:00 EST
    inside_second = datetime(2024, 11, 3, 1, 50, tzinfo=NEW_YORK, fold=1)  # 06:50 UTC
    assert schedule.next_after(inside_second, NEW_YORK) == utc(2024, 11, 3, 7, 0)  # 02:00 EST


def test_fire_times_are_strictly_increasing_across_dst() -> None:
    schedule = parse_schedule("*/30 * * * * *")
    fires = schedule.fires_between(utc(2024, 11, 3, 5, 50), utc(2024, 11, 3, 6, 10), NEW_YORK)
    assert fires == [utc(2024, 11, 3, 5, 50, 30) + timedelta(seconds=30 * i) for i in range(40)]


# ----------------------------------------------------------------- fires_between


@pytest.mark.parametrize(
    ("schedule", "start", "end", "tz", "count"),
    [
        ("0 * * * *", utc(2024, 1, 1), utc(2024, 1, 2), "UTC", 24),
        ("@daily", utc(2024, 1, 1), utc(2024, 1, 8), "Asia/Seoul", 7),
        ("0 0 * * *", utc(2024, 1, 1), utc(2024, 1, 1), "UTC", 0),
        ("0 0 * * *", utc(2024, 1, 2), utc(2024, 1, 1), "UTC", 0),
        ("* * * * *", utc(2024, 1, 1, 0, 0, 30), utc(2024, 1, 1, 0, 10, 30), "UTC", 10),
        ("*/5 * * * * *", utc(2024, 1, 1), utc(2024, 1, 1, 0, 1), "UTC", 12),
        ("0 0 1 * *", utc(2024, 1, 1), utc(2025, 1, 1), "Asia/Seoul", 12),
        ("@yearly", utc(2020, 1, 1), utc(2030, 1, 1), "UTC", 10),
    ],
)
def test_fires_between_counts(
    schedule: str, start: datetime, end: datetime, tz: str, count: int
) -> None:
    fires = parse_schedule(schedule).fires_between(start, end, tz)
    assert len(fires) == count
    assert fires == sorted(set(fires))
    assert all(start < f <= end for f in fires)


def test_fires_between_chains_without_gaps_or_repeats() -> None:
    schedule = parse_schedule("*/7 * * * *")
    edges = [utc(2024, 1, 1) + timedelta(minutes=m) for m in (0, 7, 8, 20, 21, 60)]
    chained = [f for a, b in itertools.pairwise(edges) for f in schedule.fires_between(a, b, "UTC")]
    assert chained == schedule.fires_between(edges[0], edges[-1], "UTC")
    assert len(chained) == len(set(chained))


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.next_after(datetime(2024, 1, 1), "UTC"),
        lambda s: s.fires_between(datetime(2024, 1, 1), utc(2024, 1, 2), "UTC"),
        lambda s: s.fires_between(utc(2024, 1, 1), datetime(2024, 1, 2), "UTC"),
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[Any], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(parse_schedule("0 0 * * *"))


# ----------------------------------------------------------------- manifests


def manifest(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schedule": "0 0 * * *",
        "timezone": "Asia/Seoul",
        "contentType": "application/json",
        "data": '{"job": "digest"}',
        "sink": {
            "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "digest"}
        },
    }
    body.update(spec)
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": "daily-digest", "namespace": "protostar"},
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def test_from_manifest_reads_a_sample_document() -> None:
    spec = PingSourceSpec.from_manifest(manifest())
    assert spec.name == "daily-digest"
    assert spec.namespace == "protostar"
    assert spec.schedule == "0 0 * * *"
    assert spec.timezone == "Asia/Seoul"
    assert spec.data == b'{"job": "digest"}'
    assert spec.content_type == "application/json"
    assert spec.sink_service == "digest"
    assert spec.sink_uri_path is None
    assert spec.source == "/apis/v1/namespaces/protostar/pingsources/daily-digest"
    assert spec.next_fire(kst(2024, 3, 14, 23, 59, 59)) == utc(2024, 3, 14, 15, 0)
    assert len(spec.fires_between(utc(2024, 3, 1), utc(2024, 3, 8))) == 7


def test_from_manifest_defaults() -> None:
    doc = manifest(timezone=None, contentType=None, data=None)
    del doc["metadata"]["namespace"]
    doc["spec"]["sink"] = {"ref": {"kind": "Service", "name": "cleanup"}, "uri": "jobs/run"}
    spec = PingSourceSpec.from_manifest(doc)
    assert spec.namespace == "protostar"
    assert spec.timezone == "UTC"
    assert spec.data is None
    assert spec.content_type is None
    assert spec.sink_service == "cleanup"
    assert spec.sink_uri_path == "/jobs/run"
    assert spec.next_fire(kst(2024, 3, 14, 23, 59, 59)) == utc(2024, 3, 15, 0, 0)


def test_from_manifest_decodes_data_base64() -> None:
    payload = b"\x00\xffbinary"
    doc = manifest(data=None, dataBase64=base64.b64encode(payload).decode(), contentType=None)
    spec = PingSourceSpec.from_manifest(doc)
    assert spec.data == payload


def test_from_manifest_seconds_schedule_and_namespace() -> None:
    doc = manifest(schedule="*/10 * * * * *")
    doc["metadata"]["namespace"] = "jobs"
    spec = PingSourceSpec.from_manifest(doc)
    assert spec.source == "/apis/v1/namespaces/jobs/pingsources/daily-digest"
    assert spec.next_fire(utc(2024, 1, 1, 0, 0, 1)) == utc(2024, 1, 1, 0, 0, 10)


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda d: d.update(kind="ApiServerSource"), PingSourceError, "kind"),
        (lambda d: d.update(apiVersion="sources.knative.dev/v9"), PingSourceError, "apiVersion"),
        (lambda d: d.pop("metadata"), PingSourceError, "metadata"),
        (lambda d: d["metadata"].pop("name"), PingSourceError, "metadata.name is required"),
        (lambda d: d["metadata"].update(name="Daily_Digest"), PingSourceError, "metadata.name"),
        (lambda d: d["spec"].pop("schedule"), PingSourceError, "spec.schedule is required"),
        (lambda d: d["spec"].update(schedule=5), PingSourceError, "spec.schedule must be a string"),
        (lambda d: d["spec"].update(schedule="@every 1m"), ScheduleError, "spec.schedule.*@every"),
        (lambda d: d["spec"].update(schedule="0 0 * * * 61"), ScheduleError, "day-of-week"),
        (lambda d: d["spec"].update(timezone="Asia/Seul"), ScheduleError, "spec.timezone.*Seul"),
        (lambda d: d["spec"].update(dataBase64="aGk="), PingSourceError, "mutually exclusive"),
        (
            lambda d: d["spec"].update(data=None, dataBase64="not base64!"),
            PingSourceError,
            "dataBase64",
        ),
        (lambda d: d["spec"].update(ceOverrides={}), PingSourceError, "spec.ceOverrides"),
        (lambda d: d["spec"].pop("sink"), PingSourceError, "spec.sink must be a mapping"),
        (
            lambda d: d["spec"].update(sink={"uri": "http://example.com/"}),
            PingSourceError,
            "spec.sink.ref is required",
        ),
        (
            lambda d: d["spec"]["sink"]["ref"].update(kind="Broker"),
            PingSourceError,
            "spec.sink.ref.kind",
        ),
        (
            lambda d: d["spec"]["sink"]["ref"].update(apiVersion="eventing.knative.dev/v1"),
            PingSourceError,
            "spec.sink.ref.apiVersion",
        ),
        (
            lambda d: d["spec"]["sink"]["ref"].pop("name"),
            PingSourceError,
            "spec.sink.ref.name is required",
        ),
        (
            lambda d: d["spec"]["sink"]["ref"].update(namespace="other"),
            PingSourceError,
            "spec.sink.ref.namespace",
        ),
        (
            lambda d: d["spec"]["sink"].update(uri="https://example.com/x"),
            PingSourceError,
            "must be relative",
        ),
    ],
)
def test_from_manifest_refuses_bad_documents(
    mutate: Callable[[dict[str, Any]], object], error: type[Exception], match: str
) -> None:
    doc = manifest()
    mutate(doc)
    with pytest.raises(error, match=match) as info:
        PingSourceSpec.from_manifest(doc)
    assert "daily-digest" in str(info.value) or "metadata" in str(info.value)


def test_schedule_errors_are_value_errors() -> None:
    assert issubclass(ScheduleError, ValueError)
    with pytest.raises(ValueError, match="61"):
        parse_schedule("0 0 * * * 61")


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ScheduleError, match=r"spec\.schedule"):
        PingSourceSpec("job", "protostar", "* * * *", "UTC", None, None, "svc", None)
    with pytest.raises(PingSourceError, match="sink_uri_path"):
        PingSourceSpec("job", "protostar", "* * * * *", "UTC", None, None, "svc", "x")


# ----------------------------------------------------------------- events


def test_source_string_format() -> None:
    assert ping_event_source("protostar", "nightly") == (
        "/apis/v1/namespaces/protostar/pingsources/nightly"
    )


def test_event_attributes() -> None:
    spec = PingSourceSpec.from_manifest(manifest(contentType="text/plain", data="hello"))
    fire = spec.next_fire(kst(2024, 3, 14, 12))
    attributes = ping_event_attributes(spec, fire, "id-1")
    assert attributes == {
        "specversion": "1.0",
        "id": "id-1",
        "type": PING_EVENT_TYPE,
        "source": "/apis/v1/namespaces/protostar/pingsources/daily-digest",
        "time": "2024-03-14T15:00:00Z",
        "datacontenttype": "text/plain",
    }
    assert PING_EVENT_TYPE == "dev.knative.sources.ping"
    # The time is rendered in UTC whatever zone the fire time is given in.
    local = ping_event_attributes(spec, fire.astimezone(SEOUL), "id-2")
    assert local["time"] == "2024-03-14T15:00:00Z"


@pytest.mark.parametrize(
    ("content_type", "data", "expected"),
    [
        ("text/plain", "x", "text/plain"),
        (None, "x", "application/json"),
        (None, None, None),
        ("application/xml", None, "application/xml"),
    ],
)
def test_event_content_type(
    content_type: str | None, data: str | None, expected: str | None
) -> None:
    spec = PingSourceSpec.from_manifest(manifest(contentType=content_type, data=data))
    attributes = ping_event_attributes(spec, utc(2024, 1, 1), "id")
    assert attributes.get("datacontenttype") == expected


def test_event_attributes_refuse_naive_time_and_empty_id() -> None:
    spec = PingSourceSpec.from_manifest(manifest())
    with pytest.raises(ValueError, match="timezone-aware"):
        ping_event_attributes(spec, datetime(2024, 1, 1), "id")
    with pytest.raises(ValueError, match="event_id"):
        ping_event_attributes(spec, utc(2024, 1, 1), "")
