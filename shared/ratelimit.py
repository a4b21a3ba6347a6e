"""Fixed-window rate limits in Redis: N hits per window per key, or 429.

:func:`hit` counts every attempt and refuses the one over the limit (sign-in, guest
identities, reset mails). A limit on failures only (a wrong current password) checks
with :func:`refuse_if_spent` before the attempt and counts with :func:`count` after
it fails, so the right answer costs nothing and the attempt past the limit is refused
before it is tried."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.errors import ServiceUnavailable, TooManyRequests

RATE_LIMITED = "rate_limited"


async def count(redis: Redis | None, key: str, window: int) -> int:
    """Count one hit of ``key`` in its window (which starts at the first hit); the count
    so far. Without Redis nothing is counted (0); with Redis down, ``503``."""
    if redis is None:
        return 0
    try:
        # SET NX EX then INCR in one MULTI: the window starts at the first hit. (Not
        # EXPIRE ... NX, which needs Redis 7; the embedded server is 6.2.)
        pipe = redis.pipeline()
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        _, hits = await pipe.execute()
    except Exception as exc:
        raise ServiceUnavailable("rate limiting is unavailable; try again shortly") from exc
    return int(hits)


async def hit(
    redis: Redis | None,
    key: str,
    limit: int,
    window: int,
    message: str,
    *,
    code: str = RATE_LIMITED,
) -> None:
    """Count one hit of ``key``; over ``limit`` in ``window`` seconds is ``429`` with
    ``Retry-After``. Without Redis there is no limit; with Redis down, ``503``."""
    if await count(redis, key, window) > limit:
        raise TooManyRequests(message, code=code, headers={"Retry-After": str(window)})


async def refuse_if_spent(
    redis: Redis | None, key: str, limit: int, message: str, *, code: str = RATE_LIMITED
) -> None:
    """``429`` when ``key`` was already counted ``limit`` times in its window, with
    ``Retry-After`` the seconds left of it. Without Redis, never; Redis down, ``503``."""
    if redis is None:
        return
    try:
        pipe = redis.pipeline()
        pipe.get(key)
        pipe.ttl(key)
        hits, left = await pipe.execute()
    except Exception as exc:
        raise ServiceUnavailable("rate limiting is unavailable; try again shortly") from exc
    if hits is not None and int(hits) >= limit:
        raise TooManyRequests(message, code=code, headers={"Retry-After": str(max(int(left), 1))})
