"""Schedule computations around Seoul midnight: the day a digest covers, its window,
and when the PingSources of knative/ fire."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from localplatform.manifests.load import load_manifests
from localplatform.manifests.pingsource import PingSourceSpec, ping_event_attributes
from localplatform.runtime.topology import build_topology
from shared.digest.days import day_window, previous_day, requested_day
from shared.errors import BadRequest
from shared.events.cloudevent import CloudEvent
from tests.conftest import ROOT

SEOUL = ZoneInfo("Asia/Seoul")
TZ = "Asia/Seoul"


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=SEOUL)  # type: ignore[misc]


def pingsource(name: str) -> PingSourceSpec:
    topology = build_topology(load_manifests(ROOT / "knative" / "base"))
    (spec,) = [p for p in topology.pingsources if p.name == name]
    return spec


def test_yesterday_flips_exactly_at_seoul_midnight() -> None:
    assert previous_day(kst(2024, 3, 15, 23, 59, 59), TZ) == date(2024, 3, 14)
    assert previous_day(kst(2024, 3, 15, 23, 59, 59, 999999), TZ) == date(2024, 3, 14)
    assert previous_day(kst(2024, 3, 16, 0, 0, 0), TZ) == date(2024, 3, 15)
    # The same instants in UTC: 14:59:59 and 15:00:00 UTC on the 15th.
    assert previous_day(datetime(2024, 3, 15, 14, 59, 59, tzinfo=UTC), TZ) == date(2024, 3, 14)
    assert previous_day(datetime(2024, 3, 15, 15, 0, 0, tzinfo=UTC), TZ) == date(2024, 3, 15)
    # New year and a leap day.
    assert previous_day(kst(2025, 1, 1, 0, 0, 0), TZ) == date(2024, 12, 31)
    assert previous_day(kst(2024, 3, 1, 9, 0, 0), TZ) == date(2024, 2, 29)
    with pytest.raises(ValueError, match="aware"):
        previous_day(datetime(2024, 3, 15), TZ)


def test_a_day_window_is_seoul_midnight_to_midnight() -> None:
    start, end = day_window(date(2024, 3, 14), TZ)
    assert start == datetime(2024, 3, 13, 15, 0, tzinfo=UTC)
    assert end == datetime(2024, 3, 14, 15, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def ping(fire: datetime, data: bytes = b'{"job":"digest"}') -> CloudEvent:
    attrs = ping_event_attributes(pingsource("digest"), fire, "ping-1")
    return CloudEvent(attrs, data)


def test_a_ping_covers_the_day_before_its_fire_time_even_when_delivered_late() -> None:
    fired = kst(2024, 3, 15, 9, 0)
    assert requested_day(ping(fired), TZ, now=fired) == date(2024, 3, 14)
    # Retried into the next day: still the day before the fire time.
    assert requested_day(ping(fired), TZ, now=kst(2024, 3, 16, 0, 0, 5)) == date(2024, 3, 14)
    just_before = kst(2024, 3, 15, 23, 59, 59)
    assert requested_day(ping(just_before), TZ, now=just_before) == date(2024, 3, 14)
    at_midnight = kst(2024, 3, 16, 0, 0, 0)
    assert requested_day(ping(at_midnight), TZ, now=at_midnight) == date(2024, 3, 15)


def test_a_past_day_can_be_asked_for_and_bad_days_are_400() -> None:
    now = kst(2024, 3, 16, 0, 0, 0)
    assert requested_day(ping(now, b'{"day":"2024-03-01"}'), TZ, now=now) == date(2024, 3, 1)
    assert requested_day(ping(now, b'{"day":"2024-03-15"}'), TZ, now=now) == date(2024, 3, 15)
    for bad in (
        b'{"day":"2024-03-16"}',
        b'{"day":"2099-01-01"}',
        b'{"day":"15/03/2024"}',
        b'{"day":20240315}',
        b'{"day":"2024-02-30"}',
        b"not json",
    ):
        with pytest.raises(BadRequest) as caught:
            requested_day(ping(now, bad), TZ, now=now)
        assert caught.value.code == "invalid_digest_day"


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (kst(2024, 3, 14, 8, 59, 59), kst(2024, 3, 14, 9, 0)),
        (kst(2024, 3, 14, 9, 0, 0), kst(2024, 3, 15, 9, 0)),  # strictly after
        (kst(2024, 3, 14, 23, 59, 59), kst(2024, 3, 15, 9, 0)),
        (kst(2024, 3, 15, 0, 0, 0), kst(2024, 3, 15, 9, 0)),
        # 09:00 KST is 00:00 UTC: the UTC day and the Seoul day agree at the fire.
        (datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2025, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_digest_fires_at_nine_seoul_time(after: datetime, expected: datetime) -> None:
    assert pingsource("digest").next_fire(after) == expected.astimezone(UTC)


def test_token_cleanup_fires_hourly() -> None:
    spec = pingsource("token-cleanup")
    fire = spec.next_fire(kst(2024, 3, 14, 23, 59, 59))
    assert fire == kst(2024, 3, 15, 0, 17).astimezone(UTC)
    fires = [fire]
    for _ in range(24):
        fires.append(spec.next_fire(fires[-1]))
    assert {b - a for a, b in itertools.pairwise(fires)} == {timedelta(hours=1)}


def test_schedules_point_at_their_services() -> None:
    topology = build_topology(load_manifests(ROOT / "knative" / "base"))
    sinks = {p.name: p.sink_service for p in topology.pingsources}
    assert sinks["digest"] == "digest"
    assert sinks["token-cleanup"] == "token-cleanup"
    assert sinks["quota-reset"] == "quota-reset"
    assert sinks["outbox-relay"] == "outbox-relay"
    for name in ("digest", "token-cleanup"):
        service = topology.services[name]
        assert (service.surface, service.min_scale) == ("internal", 0)
