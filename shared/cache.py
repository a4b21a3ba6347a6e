"""Redis client factory (``redis.asyncio``) with sane timeouts and health checks."""

from __future__ import annotations

from redis.asyncio import Redis


def open_redis(url: str, *, timeout: float = 2.0) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=15,
        retry_on_timeout=False,
        decode_responses=False,
    )
