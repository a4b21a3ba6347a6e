"""Question quotas: per asker (by role) and per bot (the owner's daily LLM budget).

Every check-and-consume is ONE Lua script run atomically in Redis: it checks the
asker's own window and the bot's daily budget and increments both or neither, so any
number of concurrent requests, from any number of processes, never grant more than
the limit.

=========  ==========================================  ==============================
role       own window                                  key (TTL)
=========  ==========================================  ==============================
guest      ``quota_guest_questions`` in total          ``<p>:guest:<visitor id>`` (90 d)
stargazer  ``quota_stargazer_daily`` per quota day     ``<p>:day:<date>:user:<id>`` (48 h)
protostar  none                                        (none)
(any)      the bot's ``quota_bot_daily_budget`` / day  ``<p>:day:<date>:bot:<bot id>`` (48 h)
=========  ==========================================  ==============================

``<p>`` is the prefix (``protostar:quota``); ``<date>`` the ISO date of the day in
``quota_timezone`` (Asia/Seoul). A daily counter carries its date in its name, so a new
day starts from zero by construction: the ``quota-reset`` job only frees memory early,
and quotas stay right if it never runs. A refund of a consumption leaves a marker
``<p>:refund:<token>`` so it counts once.

The asker is always the verified :class:`~shared.accounts.principal.Principal`; nothing
here takes an id from the client. When Redis cannot be reached, questions are refused
(:class:`~shared.errors.ServiceUnavailable`): quotas fail closed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Protocol, TypeVar
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.accounts.principal import Principal
from shared.errors import ServiceUnavailable, TooManyRequests

log = logging.getLogger("protostar.quotas")

DEFAULT_PREFIX: Final = "protostar:quota"
GUEST_TTL: Final = 90 * 86400  # outlives any guest identity (guest_token_ttl <= 90 days)
DAY_TTL: Final = 48 * 3600  # a day's counter lives through its day and a late refund
DEFAULT_TIMEOUT: Final = 1.0  # seconds per Redis operation before failing closed

Clock = Callable[[], datetime]
T = TypeVar("T")

# KEYS[1]: the bot's counter for the day; KEYS[2] (only for limited askers): the asker's.
# ARGV: bot budget, bot counter TTL, asker limit, asker counter TTL (seconds).
# Returns "<granted 1|0> <refused by: 0 none, 1 asker, 2 bot> <asker used> <bot used>",
# "used" after the increment when granted, -1 for an asker without a window. (One
# string, not an array: redis-py's pure-Python parser pays per array element.)
_CONSUME: Final = """
local bot_used = tonumber(redis.call('GET', KEYS[1]) or '0')
local own_used = -1
if #KEYS > 1 then
  own_used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if own_used >= tonumber(ARGV[3]) then return '0 1 ' .. own_used .. ' ' .. bot_used end
end
if bot_used >= tonumber(ARGV[1]) then return '0 2 ' .. own_used .. ' ' .. bot_used end
bot_used = redis.call('INCR', KEYS[1])
if bot_used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if #KEYS > 1 then
  own_used = redis.call('INCR', KEYS[2])
  if own_used == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
end
return '1 0 ' .. own_used .. ' ' .. bot_used
"""

# KEYS[1]: the refund marker; KEYS[2..]: the counters the consumption incremented.
# ARGV[1]: marker TTL. Gives one unit back to each counter that still exists and is
# above zero (an expired or reset counter is not re-created), once per marker.
_REFUND: Final = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for i = 2, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used > 0 then redis.call('DECR', KEYS[i]) end
end
return 1
"""


class QuotaConfig(Protocol):
    """The settings quotas read (``shared.settings.Settings`` has them)."""

    @property
    def quota_guest_questions(self) -> int: ...
    @property
    def quota_stargazer_daily(self) -> int: ...
    @property
    def quota_bot_daily_budget(self) -> int: ...
    @property
    def quota_timezone(self) -> str: ...


@dataclass(frozen=True)
class Quota:
    """The window that decides the asker's next question.

    That is the asker's own window (``scope`` ``guest``, ``daily`` or ``unlimited``),
    unless the bot's daily budget is used up: then the budget (``bot_budget``).
    ``limit``/``remaining`` are ``None`` when unlimited; ``reset_at`` is ``None`` when
    the window never resets (guests: a total, not a rate).
    """

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    scope: str

    @property
    def unlimited(self) -> bool:
        return self.limit is None


@dataclass(frozen=True)
class Consumption:
    """What :meth:`Quotas.refund` needs: the counters one question incremented."""

    token: str  # unique per consumption: a refund of it counts once
    day: date  # the quota day (in quota_timezone) the question was counted on
    keys: tuple[str, ...]  # the bot's daily counter, then the asker's own if any
    hold: int  # seconds the refund marker is kept (the longest counter TTL)


class QuotaExceeded(TooManyRequests):
    """429: the asker's window or the bot's budget is used up.

    ``headers`` are the RateLimit headers (and ``Retry-After`` when the window resets);
    ``details`` go into the JSON error body beside code and message.
    """

    code = "quota_exceeded"

    def __init__(
        self,
        message: str,
        *,
        quota: Quota,
        retry_after: int | None,
        signup_hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.quota = quota
        self.scope = quota.scope
        self.limit = quota.limit
        self.remaining = quota.remaining if quota.remaining is not None else 0
        self.reset_at = quota.reset_at
        self.retry_after = retry_after  # whole seconds until reset_at; None: never resets
        self.signup_hint = signup_hint
        self.headers = _headers(quota, retry_after)
        details: dict[str, object] = {
            "scope": self.scope,
            "limit": self.limit,
            "remaining": self.remaining,
            "reset_at": None if self.reset_at is None else self.reset_at.isoformat(),
        }
        if signup_hint is not None:
            details["signup_hint"] = signup_hint
        self.details = details


def quota_day(now: datetime, timezone: str) -> date:
    """The quota day of the instant ``now`` (aware) in ``timezone``."""
    if now.tzinfo is None:
        raise ValueError("the quota clock must return timezone-aware datetimes")
    return now.astimezone(ZoneInfo(timezone)).date()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(0, math.ceil((moment - now).total_seconds()))


def _headers(quota: Quota, retry_after: int | None) -> dict[str, str]:
    if quota.limit is None or quota.remaining is None:
        return {}
    headers = {"RateLimit-Limit": str(quota.limit), "RateLimit-Remaining": str(quota.remaining)}
    if retry_after is not None:
        headers["RateLimit-Reset"] = str(retry_after)
        if quota.remaining == 0:
            headers["Retry-After"] = str(retry_after)
    return headers


async def _guarded(what: str, timeout: float, call: Awaitable[T]) -> T:
    """Run a Redis call with a deadline; any failure refuses (503), never lets through."""
    try:
        async with asyncio.timeout(timeout):
            return await call
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning(
            "quota store unavailable", extra={"operation": what, "error": type(exc).__name__}
        )
        raise ServiceUnavailable(
            "the quota store (Redis) is unavailable, so questions cannot be counted and are "
            "refused for now; try again shortly"
        ) from exc


def _key_part(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


@dataclass(frozen=True)
class _Window:
    key: str
    limit: int
    ttl: int
    scope: str
    reset_at: datetime | None


class Quotas:
    """Check-and-consume, refund and peek of question quotas, on one Redis."""

    def __init__(
        self,
        redis: Redis,
        config: QuotaConfig,
        *,
        clock: Clock = _utc_now,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._redis = redis
        self._config = config
        self._clock = clock
        self._prefix = prefix
        self._timeout = timeout
        self._zone = ZoneInfo(config.quota_timezone)
        self._midnight = (date.min, datetime.min)  # the last day's end, computed once a day
        self._consume = redis.register_script(_CONSUME)
        self._refund = redis.register_script(_REFUND)

    # -- public ---------------------------------------------------------------------

    async def consume(self, principal: Principal, bot_id: str) -> tuple[Quota, Consumption]:
        """Count one question of ``principal`` to ``bot_id``, or raise QuotaExceeded.

        Raises ServiceUnavailable when Redis cannot be reached (nothing is counted).
        """
        now = self._now()
        day = now.date()
        bot_key = self._bot_key(day, bot_id)
        own = self._own_window(principal, day)
        keys = [bot_key] if own is None else [bot_key, own.key]
        args = [
            self._config.quota_bot_daily_budget,
            DAY_TTL,
            own.limit if own is not None else 0,
            own.ttl if own is not None else 0,
        ]
        reply: bytes | str = await _guarded(
            "consume", self._timeout, self._consume(keys=keys, args=args)
        )
        granted, refused_by, own_used, bot_used = (int(v) for v in reply.split())
        quota = self._quota(own, own_used, bot_used, day)
        if not granted:
            raise self._exceeded(principal, bot_id, own, day, refused_by, now)
        consumption = Consumption(
            token=secrets.token_hex(16),
            day=day,
            keys=tuple(keys),
            hold=max(DAY_TTL, own.ttl if own is not None else 0),
        )
        return quota, consumption

    async def refund(self, consumption: Consumption) -> None:
        """Give back the unit of a question that got no answer.

        Atomic, once per consumption however often it is called, never below zero, and
        always to the window it was taken from (yesterday's, if the day has rolled over;
        nothing if that counter has expired or been reset).
        """
        marker = f"{self._prefix}:refund:{consumption.token}"
        await _guarded(
            "refund",
            self._timeout,
            self._refund(keys=[marker, *consumption.keys], args=[consumption.hold]),
        )

    async def peek(self, principal: Principal, bot_id: str) -> Quota:
        """The quota as it stands, without counting anything."""
        day = self._now().date()
        bot_key = self._bot_key(day, bot_id)
        own = self._own_window(principal, day)
        keys = [bot_key] if own is None else [bot_key, own.key]
        values: list[bytes | str | None] = await _guarded(
            "peek", self._timeout, self._redis.mget(keys)
        )
        bot_used = int(values[0] or 0)
        own_used = int(values[1] or 0) if own is not None else -1
        return self._quota(own, own_used, bot_used, day)

    def rate_limit_headers(self, quota: Quota) -> dict[str, str]:
        """IETF RateLimit headers of ``quota`` (none when unlimited).

        ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds, when
        the window resets) and ``Retry-After`` once nothing remains.
        """
        reset = None if quota.reset_at is None else _seconds_until(quota.reset_at, self._clock())
        return _headers(quota, reset)

    # -- private --------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the quota clock must return timezone-aware datetimes")
        return now.astimezone(self._zone)

    def _next_midnight(self, day: date) -> datetime:
        cached = self._midnight
        if cached[0] != day:
            cached = (day, datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone))
            self._midnight = cached
        return cached[1]

    def _bot_key(self, day: date, bot_id: str) -> str:
        return f"{self._prefix}:day:{day.isoformat()}:bot:{_key_part(bot_id, 'bot_id')}"

    def _own_window(self, principal: Principal, day: date) -> _Window | None:
        subject = _key_part(principal.subject, "the principal's subject")
        if principal.role == "guest":
            return _Window(
                f"{self._prefix}:guest:{subject}",
                self._config.quota_guest_questions,
                GUEST_TTL,
                "guest",
                None,
            )
        if principal.role == "stargazer":
            return _Window(
                f"{self._prefix}:day:{day.isoformat()}:user:{subject}",
                self._config.quota_stargazer_daily,
                DAY_TTL,
                "daily",
                self._next_midnight(day),
            )
        if principal.role == "protostar":
            return None
        raise ValueError(f"unknown role {principal.role!r}")

    def _quota(self, own: _Window | None, own_used: int, bot_used: int, day: date) -> Quota:
        budget = self._config.quota_bot_daily_budget
        if bot_used >= budget:
            return Quota(budget, 0, self._next_midnight(day), "bot_budget")
        if own is None:
            return Quota(None, None, None, "unlimited")
        return Quota(own.limit, max(0, own.limit - own_used), own.reset_at, own.scope)

    def _exceeded(
        self,
        principal: Principal,
        bot_id: str,
        own: _Window | None,
        day: date,
        refused_by: int,
        now: datetime,
    ) -> QuotaExceeded:
        if refused_by == 1 and own is not None:
            quota = Quota(own.limit, 0, own.reset_at, own.scope)
            retry = None if own.reset_at is None else _seconds_until(own.reset_at, now)
            if own.scope == "guest":
                daily = self._config.quota_stargazer_daily
                hint = f"Sign up (free) to ask {daily} questions a day."
                message = (
                    f"Guests can ask {own.limit} questions, and you have asked them all. " + hint
                )
                return QuotaExceeded(message, quota=quota, retry_after=None, signup_hint=hint)
            message = (
                f"You have asked your {own.limit} questions for today; the quota resets at "
                f"midnight {self._config.quota_timezone} time ({own.reset_at:%Y-%m-%d %H:%M %Z})."
            )
            return QuotaExceeded(message, quota=quota, retry_after=retry)
        reset_at = self._next_midnight(day)
        quota = Quota(self._config.quota_bot_daily_budget, 0, reset_at, "bot_budget")
        log.warning(
            "bot daily budget used up",
            extra={"bot_id": bot_id, "day": day.isoformat(), "role": principal.role},
        )
        message = (
            "This bot has answered as many questions today as its owner allows; try again "
            f"after midnight {self._config.quota_timezone} time ({reset_at:%Y-%m-%d %H:%M %Z})."
        )
        return QuotaExceeded(message, quota=quota, retry_after=_seconds_until(reset_at, now))


async def reset_past_days(
    redis: Redis,
    today: date,
    *,
    prefix: str = DEFAULT_PREFIX,
    batch: int = 500,
    timeout: float = 120.0,
) -> int:
    """Delete the daily counters of days before ``today`` that have not expired yet.

    SCAN with MATCH (never KEYS), UNLINK in batches; returns how many were deleted.
    Housekeeping only: counters are keyed by their day, so quotas are right without it.
    """
    head = f"{prefix}:day:".encode()

    def past(key: bytes) -> bool:
        try:
            day = date.fromisoformat(key[len(head) : len(head) + 10].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return False  # not one of ours: leave it alone
        return day < today and key[len(head) + 10 : len(head) + 11] == b":"

    async def run() -> int:
        deleted = 0
        doomed: list[bytes | str] = []
        async for found in redis.scan_iter(match=head + b"*", count=batch):
            if past(found if isinstance(found, bytes) else str(found).encode()):
                doomed.append(found)
            if len(doomed) >= batch:
                deleted += int(await redis.unlink(*doomed))
                doomed.clear()
        if doomed:
            deleted += int(await redis.unlink(*doomed))
        return deleted

    return await _guarded("reset", timeout, run())
