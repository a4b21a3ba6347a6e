"""Quotas against real Redis: atomic under concurrency, per role, per bot, per Seoul day,
refunds, RateLimit headers, fail-closed when Redis is gone, and the past-days reset."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from redis.asyncio import Redis

from localplatform.embedded.procs import free_port, spawn, stop
from localplatform.embedded.redis import EmbeddedRedis
from shared.accounts.principal import Principal
from shared.accounts.quotas import (
    DAY_TTL,
    GUEST_TTL,
    Quota,
    QuotaExceeded,
    Quotas,
    quota_day,
    reset_past_days,
)
from shared.cache import open_redis
from shared.errors import ServiceUnavailable, TooManyRequests
from shared.events.cloudevent import new_event, to_binary
from tests.conftest import ROOT, workdir

SEOUL = ZoneInfo("Asia/Seoul")
# 2025-03-14 23:59:59 in Seoul is 14:59:59 UTC; Seoul's next day starts at 15:00:00 UTC.
LAST_SECOND = datetime(2025, 3, 14, 14, 59, 59, tzinfo=UTC)
MIDNIGHT = datetime(2025, 3, 14, 15, 0, 0, tzinfo=UTC)
DAY = date(2025, 3, 14)
NEXT_DAY = date(2025, 3, 15)


@dataclass(frozen=True)
class Limits:
    quota_guest_questions: int = 3
    quota_stargazer_daily: int = 10
    quota_bot_daily_budget: int = 1000
    quota_timezone: str = "Asia/Seoul"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def guest(name: str = "visitor-1") -> Principal:
    return Principal(name, "guest", bot="career-bot")


def stargazer(name: str = "user-1") -> Principal:
    return Principal(name, "stargazer")


def protostar(name: str = "owner-1") -> Principal:
    return Principal(name, "protostar")


@pytest.fixture
def prefix() -> str:
    return f"test:quota:{uuid.uuid4().hex}"


@pytest.fixture
async def redis(external_redis_url: str, prefix: str) -> AsyncIterator[Redis]:
    client = open_redis(external_redis_url)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.unlink(*keys)
    await client.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 14, 3, 0, 0, tzinfo=UTC))  # 12:00 in Seoul


def quotas(redis: Redis, prefix: str, clock: Clock, **limits: int) -> Quotas:
    return Quotas(redis, Limits(**limits), clock=clock, prefix=prefix)


async def count(redis: Redis, key: str) -> int | None:
    value = await redis.get(key)
    return None if value is None else int(value)


async def consume_many(q: Quotas, principal: Principal, bot: str, n: int) -> tuple[int, int]:
    results = await asyncio.gather(
        *(q.consume(principal, bot) for _ in range(n)), return_exceptions=True
    )
    granted = sum(isinstance(r, tuple) for r in results)
    refused = sum(isinstance(r, QuotaExceeded) for r in results)
    assert granted + refused == n, [r for r in results if isinstance(r, BaseException)]
    return granted, refused


# -- atomicity ------------------------------------------------------------------------


async def test_100_concurrent_consumes_on_one_client_grant_exactly_10(
    redis: Redis, prefix: str, clock: Clock
) -> None:
    q = quotas(redis, prefix, clock)
    assert await consume_many(q, stargazer(), "bot-a", 100) == (10, 90)
    assert await count(redis, f"{prefix}:day:2025-03-14:user:user-1") == 10
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 10


async def test_100_concurrent_consumes_over_several_clients_grant_exactly_10(
    external_redis_url: str, redis: Redis, prefix: str, clock: Clock
) -> None:
    clients = [open_redis(external_redis_url) for _ in range(5)]
    try:
        per_client = [quotas(c, prefix, clock) for c in clients]
        results = await asyncio.gather(
            *(consume_many(q, stargazer(), "bot-a", 20) for q in per_client)
        )
    finally:
        for c in clients:
            await c.aclose()
    assert sum(granted for granted, _ in results) == 10
    assert sum(refused for _, refused in results) == 90
    assert await count(redis, f"{prefix}:day:2025-03-14:user:user-1") == 10
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 10


# -- roles ----------------------------------------------------------------------------


async def test_guest_gets_3_questions_then_a_signup_hint(
    redis: Redis, prefix: str, clock: Clock
) -> None:
    q = quotas(redis, prefix, clock)
    remaining = []
    for _ in range(3):
        quota, _ = await q.consume(guest(), "bot-a")
        assert (quota.limit, quota.reset_at, quota.scope) == (3, None, "guest")
        remaining.append(quota.remaining)
    assert remaining == [2, 1, 0]

    with pytest.raises(QuotaExceeded) as caught:
        await q.consume(guest(), "bot-a")
    exc = caught.value
    assert isinstance(exc, TooManyRequests)
    assert (exc.status, exc.code, exc.scope) == (429, "quota_exceeded", "guest")
    assert (exc.limit, exc.remaining, exc.reset_at, exc.retry_after) == (3, 0, None, None)
    assert exc.signup_hint is not None
    assert "10 questions a day" in exc.signup_hint
    assert "Sign up" in exc.message
    assert "10 questions a day" in exc.message
    assert exc.headers == {"RateLimit-Limit": "3", "RateLimit-Remaining": "0"}
    assert exc.details["signup_hint"] == exc.signup_hint
    assert exc.details["scope"] == "guest"
    # A refused question counted nowhere.
    assert await count(redis, f"{prefix}:guest:visitor-1") == 3
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 3
    assert 0 < await redis.ttl(f"{prefix}:guest:visitor-1") <= GUEST_TTL

    # It is a total, not a rate: days later, still nothing; another visitor is separate.
    clock.now += timedelta(days=3)
    with pytest.raises(QuotaExceeded):
        await q.consume(guest(), "bot-a")
    quota, _ = await q.consume(guest("visitor-2"), "bot-a")
    assert quota.remaining == 2


async def test_stargazer_gets_10_a_day_with_its_reset_time(
    redis: Redis, prefix: str, clock: Clock
) -> None:
    q = quotas(redis, prefix, clock)
    for i in range(10):
        quota, _ = await q.consume(stargazer(), "bot-a")
        assert quota == Quota(10, 9 - i, datetime(2025, 3, 15, tzinfo=SEOUL), "daily")
    with pytest.raises(QuotaExceeded) as caught:
        await q.consume(stargazer(), "bot-a")
    exc = caught.value
    assert (exc.scope, exc.limit, exc.remaining, exc.signup_hint) == ("daily", 10, 0, None)
    assert exc.retry_after == 12 * 3600  # 12:00 in Seoul
    assert exc.headers["Retry-After"] == str(12 * 3600)
    assert "Asia/Seoul" in exc.message
    assert 0 < await redis.ttl(f"{prefix}:day:2025-03-14:user:user-1") <= DAY_TTL
    # Another stargazer is counted separately.
    quota, _ = await q.consume(stargazer("user-2"), "bot-a")
    assert quota.remaining == 9


async def test_protostar_is_unlimited_but_bounded_by_the_bot_budget(
    redis: Redis, prefix: str, clock: Clock
) -> None:
    q = quotas(redis, prefix, clock, quota_bot_daily_budget=25)
    for _ in range(24):
        quota, _ = await q.consume(protostar(), "bot-a")
        assert quota == Quota(None, None, None, "unlimited")
        assert q.rate_limit_headers(quota) == {}
    # The last unit of the budget: what decides the next question is now the budget.
    quota, _ = await q.consume(protostar(), "bot-a")
    assert (quota.scope, quota.limit, quota.remaining) == ("bot_budget", 25, 0)
    with pytest.raises(QuotaExceeded) as caught:
        await q.consume(protostar(), "bot-a")
    assert caught.value.scope == "bot_budget"
    assert caught.value.retry_after == 12 * 3600
    assert caught.value.signup_hint is None
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 25
    # Nothing personal is kept for an unlimited asker.
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*user*")] == []
    # Another bot has its own budget.
    quota, _ = await q.consume(protostar(), "bot-b")
    assert quota.scope == "unlimited"


async def test_the_bot_budget_is_shared_by_every_asker(
    redis: Redis, prefix: str, clock: Clock
) -> None:
    q = quotas(redis, prefix, clock, quota_bot_daily_budget=4)
    await q.consume(guest("v-1"), "bot-a")
    await q.consume(guest("v-2"), "bot-a")
    await q.consume(stargazer("u-1"), "bot-a")
    await q.consume(protostar("p-1"), "bot-a")
    for principal in (guest("v-3"), stargazer("u-2"), protostar("p-2")):
        with pytest.raises(QuotaExceeded) as caught:
            await q.consume(principal, "bot-a")
        assert caught.value.scope == "bot_budget"
    # The refused askers' own windows were not charged (both or neither).
    assert await count(redis, f"{prefix}:guest:v-3") is None
    assert await count(redis, f"{prefix}:day:2025-03-14:user:u-2") is None
    assert (await q.peek(stargazer("u-2"), "bot-a")).scope == "bot_budget"
    assert await q.peek(stargazer("u-2"), "bot-b") == Quota(
        10, 10, datetime(2025, 3, 15, tzinfo=SEOUL), "daily"
    )
    await q.consume(stargazer("u-2"), "bot-b")


async def test_concurrent_askers_never_overspend_the_bot_budget(
    redis: Redis, prefix: str, clock: Clock
) -> None:
    q = quotas(redis, prefix, clock, quota_bot_daily_budget=30)
    askers = [stargazer(f"u-{i}") for i in range(20)] + [protostar(f"p-{i}") for i in range(5)]
    results = await asyncio.gather(
        *(q.consume(a, "bot-a") for a in askers for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(r, tuple) for r in results) == 30
    assert all(isinstance(r, tuple | QuotaExceeded) for r in results)
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 30
    users = [await count(redis, f"{prefix}:day:2025-03-14:user:u-{i}") or 0 for i in range(20)]
    protostar_granted = 30 - sum(users)
    assert 0 <= protostar_granted <= 20


# -- the Seoul day --------------------------------------------------------------------


async def test_the_day_is_seouls(redis: Redis, prefix: str) -> None:
    clock = Clock(LAST_SECOND)  # 23:59:59 KST, 14:59:59 UTC
    q = quotas(redis, prefix, clock)
    assert quota_day(LAST_SECOND, "Asia/Seoul") == DAY
    for _ in range(10):
        quota, consumption = await q.consume(stargazer(), "bot-a")
        assert consumption.day == DAY
    assert quota.reset_at == MIDNIGHT
    assert q.rate_limit_headers(quota)["RateLimit-Reset"] == "1"
    with pytest.raises(QuotaExceeded) as caught:
        await q.consume(stargazer(), "bot-a")
    assert caught.value.retry_after == 1

    clock.now = MIDNIGHT  # 00:00:00 KST, 15:00:00 UTC: a fresh day
    assert quota_day(MIDNIGHT, "Asia/Seoul") == NEXT_DAY
    quota, consumption = await q.consume(stargazer(), "bot-a")
    assert consumption.day == NEXT_DAY
    assert quota == Quota(10, 9, datetime(2025, 3, 16, tzinfo=SEOUL), "daily")
    assert quota.reset_at == datetime(2025, 3, 15, 15, 0, 0, tzinfo=UTC)
    assert await count(redis, f"{prefix}:day:2025-03-14:user:user-1") == 10
    assert await count(redis, f"{prefix}:day:2025-03-15:user:user-1") == 1
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 10
    assert await count(redis, f"{prefix}:day:2025-03-15:bot:bot-a") == 1


async def test_a_naive_clock_is_refused(redis: Redis, prefix: str) -> None:
    q = quotas(redis, prefix, Clock(datetime(2025, 3, 14, 12, 0)))
    with pytest.raises(ValueError, match="timezone-aware"):
        await q.consume(stargazer(), "bot-a")
    with pytest.raises(ValueError, match="empty"):
        await quotas(redis, prefix, Clock(MIDNIGHT)).consume(stargazer(""), "bot-a")


# -- refunds --------------------------------------------------------------------------


async def test_a_refund_gives_the_unit_back_exactly_once(
    redis: Redis, prefix: str, clock: Clock
) -> None:
    q = quotas(redis, prefix, clock)
    _, first = await q.consume(stargazer(), "bot-a")
    _, second = await q.consume(stargazer(), "bot-a")
    assert (await q.peek(stargazer(), "bot-a")).remaining == 8
    await q.refund(first)
    assert (await q.peek(stargazer(), "bot-a")).remaining == 9
    await asyncio.gather(*(q.refund(first) for _ in range(10)))  # again, even concurrently
    assert (await q.peek(stargazer(), "bot-a")).remaining == 9
    assert await count(redis, f"{prefix}:day:2025-03-14:user:user-1") == 1
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 1
    await q.refund(second)
    assert await count(redis, f"{prefix}:day:2025-03-14:user:user-1") == 0
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 0

    # Never below zero: a counter that was reset meanwhile stays at zero (or absent).
    _, third = await q.consume(guest(), "bot-a")
    await redis.set(f"{prefix}:guest:visitor-1", 0)
    await redis.delete(f"{prefix}:day:2025-03-14:bot:bot-a")
    await q.refund(third)
    assert await count(redis, f"{prefix}:guest:visitor-1") == 0
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") is None


async def test_a_refund_after_midnight_goes_to_the_original_day(redis: Redis, prefix: str) -> None:
    clock = Clock(LAST_SECOND)
    q = quotas(redis, prefix, clock)
    for _ in range(9):
        await q.consume(stargazer(), "bot-a")
    _, late = await q.consume(stargazer(), "bot-a")  # the 10th, at 23:59:59 KST
    clock.now = MIDNIGHT
    await q.consume(stargazer(), "bot-a")
    await q.refund(late)
    assert await count(redis, f"{prefix}:day:2025-03-14:user:user-1") == 9
    assert await count(redis, f"{prefix}:day:2025-03-14:bot:bot-a") == 9
    assert await count(redis, f"{prefix}:day:2025-03-15:user:user-1") == 1
    assert await count(redis, f"{prefix}:day:2025-03-15:bot:bot-a") == 1
    assert (await q.peek(stargazer(), "bot-a")).remaining == 9


async def test_a_refunded_unit_can_be_asked_again(redis: Redis, prefix: str, clock: Clock) -> None:
    q = quotas(redis, prefix, clock)
    consumptions = [(await q.consume(guest(), "bot-a"))[1] for _ in range(3)]
    with pytest.raises(QuotaExceeded):
        await q.consume(guest(), "bot-a")
    await q.refund(consumptions[-1])
    quota, _ = await q.consume(guest(), "bot-a")
    assert quota.remaining == 0


# -- headers --------------------------------------------------------------------------


async def test_rate_limit_headers(redis: Redis, prefix: str, clock: Clock) -> None:
    clock.now = datetime(2025, 3, 14, 13, 30, 0, tzinfo=UTC)  # 22:30 in Seoul
    q = quotas(redis, prefix, clock)
    for _ in range(3):
        quota, _ = await q.consume(stargazer(), "bot-a")
    assert q.rate_limit_headers(quota) == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "7",
        "RateLimit-Reset": "5400",
    }
    clock.now += timedelta(seconds=0.5)  # a part second counts as a whole one
    assert q.rate_limit_headers(quota)["RateLimit-Reset"] == "5400"
    for _ in range(7):
        quota, _ = await q.consume(stargazer(), "bot-a")
    assert q.rate_limit_headers(quota) == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "5400",
        "Retry-After": "5400",
    }
    quota, _ = await q.consume(guest(), "bot-a")
    assert q.rate_limit_headers(quota) == {"RateLimit-Limit": "3", "RateLimit-Remaining": "2"}
    quota, _ = await q.consume(protostar(), "bot-a")
    assert q.rate_limit_headers(quota) == {}
    assert q.rate_limit_headers(await q.peek(stargazer("user-9"), "bot-a")) == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "10",
        "RateLimit-Reset": "5400",
    }


# -- Redis unreachable: fail closed ---------------------------------------------------


async def test_a_closed_port_refuses_questions(clock: Clock, prefix: str) -> None:
    client = open_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    q = quotas(client, prefix, clock)
    try:
        for principal in (guest(), stargazer(), protostar()):
            with pytest.raises(ServiceUnavailable, match="quota store"):
                await q.consume(principal, "bot-a")
        with pytest.raises(ServiceUnavailable):
            await q.peek(stargazer(), "bot-a")
    finally:
        await client.aclose()


@pytest.fixture
def embedded_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(workdir("qredis") / "redis", password="pw-" + uuid.uuid4().hex)
    server.start()
    yield server
    server.stop()


async def test_a_stopped_redis_refuses_and_counts_nothing(
    embedded_redis: EmbeddedRedis, clock: Clock, prefix: str
) -> None:
    client = open_redis(embedded_redis.url, timeout=0.5)
    q = quotas(client, prefix, clock)
    try:
        _, consumption = await q.consume(stargazer(), "bot-a")
        await q.consume(stargazer(), "bot-a")
        embedded_redis.stop()
        with pytest.raises(ServiceUnavailable) as caught:
            await q.consume(stargazer(), "bot-a")
        assert embedded_redis.password not in caught.value.message
        with pytest.raises(ServiceUnavailable):
            await q.refund(consumption)
        embedded_redis.start()  # same port, same append-only file
        quota = await q.peek(stargazer(), "bot-a")
        assert quota.remaining == 8  # the refused question was not counted
        quota, _ = await q.consume(stargazer(), "bot-a")  # the script is loaded again
        assert quota.remaining == 7
    finally:
        await client.aclose()


# -- the reset of past days -----------------------------------------------------------


async def test_reset_past_days_removes_yesterdays_keys_and_keeps_todays(
    redis: Redis, prefix: str
) -> None:
    clock = Clock(LAST_SECOND)
    q = quotas(redis, prefix, clock)
    await q.consume(stargazer(), "bot-a")
    await q.consume(guest(), "bot-a")
    async with redis.pipeline(transaction=False) as pipe:  # more than one SCAN/UNLINK batch
        for i in range(1200):
            pipe.set(f"{prefix}:day:2025-03-13:user:old-{i}", 1, ex=DAY_TTL)
        await pipe.execute()
    clock.now = MIDNIGHT
    await q.consume(stargazer(), "bot-a")
    await redis.set(f"{prefix}:day:not-a-date:x", 1, ex=60)
    await redis.set(f"{prefix}:day:2025-03-14x:x", 1, ex=60)

    removed = await reset_past_days(redis, NEXT_DAY, prefix=prefix, batch=500)
    assert removed == 1202  # yesterday's user and bot counters, and the older ones
    left = sorted([k.decode() async for k in redis.scan_iter(match=f"{prefix}:*")])
    assert left == sorted(
        [
            f"{prefix}:day:2025-03-15:bot:bot-a",
            f"{prefix}:day:2025-03-15:user:user-1",
            f"{prefix}:day:not-a-date:x",
            f"{prefix}:day:2025-03-14x:x",
            f"{prefix}:guest:visitor-1",
        ]
    )
    assert await reset_past_days(redis, NEXT_DAY, prefix=prefix) == 0
    assert (await q.peek(stargazer(), "bot-a")).remaining == 9


async def test_reset_past_days_fails_closed(prefix: str) -> None:
    client = open_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        with pytest.raises(ServiceUnavailable):
            await reset_past_days(client, NEXT_DAY, prefix=prefix)
    finally:
        await client.aclose()


@pytest.mark.e2e
async def test_the_quota_reset_function_end_to_end(embedded_redis: EmbeddedRedis) -> None:
    """functions/quota_reset as its own process, woken by a PingSource-shaped event."""
    client = open_redis(embedded_redis.url)
    today = quota_day(datetime.now(UTC), "Asia/Seoul")
    old = f"protostar:quota:day:{(today - timedelta(days=1)).isoformat()}:user:u-1"
    kept = f"protostar:quota:day:{today.isoformat()}:user:u-1"
    await client.set(old, 3, ex=DAY_TTL)
    await client.set(kept, 2, ex=DAY_TTL)
    data = workdir("qreset")
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": embedded_redis.url,
        "PROTOSTAR_DATA": str(data),
        "PYTHONPATH": str(ROOT),
        "K_SERVICE": "quota-reset",
    }
    env.pop("DATABASE_URL", None)
    proc = spawn(
        [
            sys.executable,
            "-m",
            "functions_framework",
            "--target",
            "quota_reset",
            "--source",
            str(ROOT / "functions/quota_reset/main.py"),
            "--asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        log=subprocess.DEVNULL,
    )
    try:
        event = new_event(
            "dev.knative.sources.ping",
            "/apis/v1/namespaces/protostar/pingsources/quota-reset",
            {"job": "quota-reset"},
        )
        headers, body = to_binary(event)
        async with httpx.AsyncClient(timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = await http.post(
                        f"http://127.0.0.1:{port}/", content=body, headers=headers
                    )
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
        assert response.status_code == 202, response.text
        assert await client.get(old) is None
        assert await client.get(kept) == b"2"
    finally:
        stop(proc)
        await client.aclose()
