"""An upload whose row has committed keeps its original, even when the request is
cancelled while the event is being handed to the broker (nothing half-stored either
way: before the commit, the original goes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from psycopg_pool import AsyncConnectionPool

from shared.accounts.principal import Principal
from shared.content.service import ContentService
from shared.db.pool import open_pool
from shared.events import outbox
from shared.storage.files import FileObjectStore
from tests.conftest import Database
from tests.support.db import new_bot, new_user

SINK = "http://broker.invalid/protostar/default"


class CancelledSend(outbox.BrokerClient):
    async def send(self, event: object) -> None:  # type: ignore[override]
        raise asyncio.CancelledError  # the request is cancelled mid-send


@pytest.fixture
async def pool(pg: Database) -> AsyncIterator[AsyncConnectionPool]:
    p = await open_pool(pg.app_url, name="upload-commit", min_size=1, max_size=2)
    yield p
    await p.close()


async def setup(pool: AsyncConnectionPool, pg: Database) -> tuple[Principal, str]:
    owner = new_user(pg, "protostar")
    return Principal(subject=owner, role="protostar"), await new_bot(pool, owner, "up")


async def test_a_committed_upload_keeps_its_original_when_the_send_is_cancelled(
    pool: AsyncConnectionPool, pg: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal, slug = await setup(pool, pg)
    store = FileObjectStore(tmp_path, signing_key=b"k", public_base="http://x")
    monkeypatch.setitem(outbox._clients, SINK, CancelledSend(SINK))
    service = ContentService(pool, store, max_bytes=100_000, broker_url=SINK)
    with pytest.raises(asyncio.CancelledError):
        await service.upload(principal, slug, "cv.md", b"# CV\n\nKafka and RabbitMQ.\n")
    docs = await service.list_documents(principal, slug)
    assert [d["status"] for d in docs] == ["uploaded"]
    (stored,) = await store.list_objects("bots/")
    assert stored.key.endswith("/cv.md")  # the row's original is still there


async def test_an_upload_that_does_not_commit_leaves_no_original(
    pool: AsyncConnectionPool, pg: Database, tmp_path: Path
) -> None:
    principal, slug = await setup(pool, pg)
    store = FileObjectStore(tmp_path, signing_key=b"k", public_base="http://x")
    service = ContentService(pool, store, max_bytes=100_000)

    async def fail(*_: object, **__: object) -> None:
        raise RuntimeError("the database step failed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("shared.db.unit.UnitOfWork.record", fail)
        with pytest.raises(RuntimeError):
            await service.upload(principal, slug, "cv.md", b"# CV\n\nKafka.\n")
    assert await service.list_documents(principal, slug) == []
    assert await store.list_objects("bots/") == []
