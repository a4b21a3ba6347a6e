"""The daily talent-search quota of a signed-up user: ``quota_talent_stargazer_daily``
searches per quota day for stargazers, ``quota_talent_protostar_daily`` for protostars.

One Lua script checks and counts atomically (any number of processes never grant more
than the limit); the counter carries its day in its name (``<p>:day:<date>:user:<id>``,
48 h TTL), so a new day starts from zero by construction. A search that fails after it
was counted is given back. Redis unreachable: 503 (the quota fails closed), as question
quotas do (shared/accounts/quotas.py).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.accounts.principal import Principal
from shared.accounts.quotas import quota_day
from shared.errors import ServiceUnavailable, TooManyRequests

PREFIX: Final = "protostar:talent"
DAY_TTL: Final = 48 * 3600
TIMEOUT: Final = 1.0

# KEYS[1]: the user's counter of the day. ARGV: limit, TTL. Returns "<granted> <used>".
_CONSUME: Final = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return '0 ' .. used end
used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return '1 ' .. used
"""
_REFUND: Final = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""


@dataclass(frozen=True)
class SearchQuota:
    limit: int
    remaining: int
    reset_at: datetime
    key: str

    def view(self) -> dict[str, object]:
        return {"limit": self.limit, "remaining": self.remaining, "reset_at": self.reset_at}

    def headers(self, now: datetime | None = None) -> dict[str, str]:
        seconds = max(0, math.ceil((self.reset_at - (now or datetime.now(UTC))).total_seconds()))
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(seconds),
        }
        if self.remaining == 0:
            out["Retry-After"] = str(seconds)
        return out


class SearchQuotaExceeded(TooManyRequests):
    code = "talent_quota_exceeded"

    def __init__(self, quota: SearchQuota) -> None:
        super().__init__(
            f"you have used today's {quota.limit} talent searches; more from "
            f"{quota.reset_at.isoformat()}"
        )
        self.headers = quota.headers()
        self.details = {"limit": quota.limit, "remaining": 0,
                        "reset_at": quota.reset_at.isoformat()}  # fmt: skip


class TalentQuota:
    def __init__(
        self, redis: Redis, *, stargazer_daily: int, protostar_daily: int, timezone: str
    ) -> None:
        self.redis = redis
        self.limits = {"stargazer": stargazer_daily, "protostar": protostar_daily}
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone

    def _window(self, principal: Principal) -> tuple[str, int, datetime]:
        now = datetime.now(UTC)
        day = quota_day(now, self.timezone)
        reset = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        key = f"{PREFIX}:day:{day.isoformat()}:user:{principal.subject}"
        return key, self.limits.get(principal.role, 0), reset

    async def consume(self, principal: Principal) -> SearchQuota:
        key, limit, reset = self._window(principal)
        reply = await self._run(_CONSUME, key, limit, DAY_TTL)
        granted, used = (int(x) for x in reply.split())
        quota = SearchQuota(limit, max(0, limit - used), reset, key)
        if not granted:
            raise SearchQuotaExceeded(quota)
        return quota

    async def refund(self, quota: SearchQuota) -> None:
        await self._run(_REFUND, quota.key)

    async def _run(self, script: str, key: str, *args: int) -> str:
        try:
            async with asyncio.timeout(TIMEOUT):
                reply = await self.redis.eval(script, 1, key, *args)  # type: ignore[misc,unused-ignore]
        except (RedisError, OSError, TimeoutError) as exc:
            raise ServiceUnavailable(
                "the quota store (Redis) is unavailable, so searches cannot be counted and "
                "are refused for now; try again shortly"
            ) from exc
        return reply.decode() if isinstance(reply, bytes) else str(reply)
