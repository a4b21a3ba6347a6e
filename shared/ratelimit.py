"""A fixed-window rate limit in Redis: N hits per window per key, or 429."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.errors import ServiceUnavailable, TooManyRequests


async def hit(redis: Redis | None, key: str, limit: int, window: int, message: str) -> None:
    """Count one hit of ``key``; over ``limit`` in ``window`` seconds is ``429`` with
    ``Retry-After``. Without Redis there is no limit; with Redis down, ``503``."""
    if redis is None:
        return
    try:
        # SET NX EX then INCR in one MULTI: the window starts at the first hit. (Not
        # EXPIRE ... NX, which needs Redis 7; the embedded server is 6.2.)
        pipe = redis.pipeline()
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        _, count = await pipe.execute()
    except Exception as exc:
        raise ServiceUnavailable("rate limiting is unavailable; try again shortly") from exc
    if int(count) > limit:
        raise TooManyRequests(message, code="rate_limited", headers={"Retry-After": str(window)})
