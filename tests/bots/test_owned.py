"""One rule for the owner's side: every owner surface refuses a non-protostar the same
way, and "the caller's bot by slug" is 404 for a bot of anyone else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from shared.accounts.principal import Principal
from shared.bots.owned import owned_bot_id
from shared.bots.service import BotService
from shared.content.service import ContentService
from shared.db.pool import open_pool
from shared.errors import Forbidden, NotFound
from shared.insights import InsightsService
from shared.storage.files import FileObjectStore
from tests.conftest import Database
from tests.support.db import new_bot, new_user


@pytest.fixture
async def pool(pg: Database) -> AsyncIterator[AsyncConnectionPool]:
    p = await open_pool(pg.app_url, name="owned-test", min_size=1, max_size=2)
    yield p
    await p.close()


@pytest.mark.parametrize("role", ["stargazer", "guest"])
async def test_every_owner_surface_refuses_a_non_protostar_alike(
    pool: AsyncConnectionPool, pg: Database, tmp_path: Path, role: str
) -> None:
    subject = new_user(pg, "stargazer") if role == "stargazer" else "v_visitor"
    principal = Principal(subject=subject, role=role, is_admin=True)  # type: ignore[arg-type]
    store = FileObjectStore(tmp_path, signing_key=b"k", public_base="http://x")
    calls: list[Any] = [
        BotService(pool).list(principal),
        ContentService(pool, store, max_bytes=1000).list_documents(principal, "any-bot"),
        InsightsService(pool).insights(principal, "any-bot"),
    ]
    for call in calls:
        with pytest.raises(Forbidden) as refused:
            await call
        assert refused.value.code == "not_protostar"


async def test_the_owned_bot_is_404_for_anyone_else(
    pool: AsyncConnectionPool, pg: Database
) -> None:
    mine, theirs = new_user(pg, "protostar"), new_user(pg, "protostar")
    slug = await new_bot(pool, mine, "owned")
    async with pool.connection() as conn, conn.transaction():
        assert await owned_bot_id(conn, mine, slug)
    for owner, asked in ((theirs, slug), (mine, "no-such-bot"), (mine, "Not A Slug!")):
        async with pool.connection() as conn, conn.transaction():
            with pytest.raises(NotFound) as missing:
                await owned_bot_id(conn, owner, asked)
        assert missing.value.code == "bot_not_found"
