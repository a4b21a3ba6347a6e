"""Process-wide connections, opened lazily on first use and shared by every request.

functions-framework's ASGI app has no lifespan hook, so nothing connects at import:
a cold start stays cheap and a function that never touches Redis never connects to it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from shared.errors import ServiceUnavailable
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool
    from redis.asyncio import Redis

    from shared.storage.base import ObjectStore


class Resources:
    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self._lock = asyncio.Lock()
        self._pool: AsyncConnectionPool | None = None
        self._redis: Redis | None = None
        self._store: ObjectStore | None = None

    async def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    if not self.settings.database_url:
                        raise ServiceUnavailable("DATABASE_URL is not set")
                    from shared.db.pool import open_pool

                    self._pool = await open_pool(
                        self.settings.database_url,
                        name=self.name,
                        min_size=self.settings.database_pool_min,
                        max_size=self.settings.database_pool_max,
                        conn_timeout=self.settings.database_timeout,
                    )
        return self._pool

    def redis(self) -> Redis:
        if self._redis is None:
            if not self.settings.redis_url:
                raise ServiceUnavailable("REDIS_URL is not set")
            from shared.cache import open_redis

            self._redis = open_redis(self.settings.redis_url)
        return self._redis

    def object_store(self) -> ObjectStore:
        if self._store is None:
            from shared.storage.factory import open_object_store

            self._store = open_object_store(self.settings)
        return self._store

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._store is not None:
            await self._store.close()
            self._store = None


_current: Resources | None = None


def get_resources(name: str = "protostar") -> Resources:
    global _current
    if _current is None:
        _current = Resources(get_settings(), name)
    return _current


_settled = False


def settle_heap() -> None:
    """Once a process has served its first request (its models, lexicons, pools and
    caches loaded), move everything it holds out of the garbage collector's reach: a
    full collection otherwise walks all of it again and again, and a search that
    allocates as much as talent search's does pays it every few requests (at 10,000
    people: 250 ms pauses, p95 584 -> 413 ms in bench/talent_bench.py). Later objects
    are collected as ever. Idempotent."""
    global _settled
    if _settled:
        return
    import gc

    gc.collect()
    gc.freeze()
    _settled = True
