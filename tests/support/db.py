"""Rows a test needs before it can start: a user of a role, a bot of an owner (written
directly, as the owner role and as the bot's owner under row-level security)."""

from __future__ import annotations

import uuid

import psycopg
from psycopg_pool import AsyncConnectionPool

from shared.db.unit import scope
from tests.conftest import Database


def new_user(pg: Database, role: str = "stargazer") -> str:
    """A user of ``role`` (no password anyone could use); returns its id."""
    with psycopg.connect(pg.owner_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO users (email, password_hash, role) VALUES (%s, 'x', %s) RETURNING id",
            (f"{uuid.uuid4().hex[:10]}@example.com", role),
        ).fetchone()
    assert row is not None
    return str(row[0])


async def new_bot(pool: AsyncConnectionPool, owner: str, prefix: str = "bot") -> str:
    """A bot of ``owner`` with a fresh slug; returns the slug."""
    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    async with pool.connection() as conn, conn.transaction():
        await scope(conn, user=owner)
        await conn.execute(
            "INSERT INTO bots (owner_id, slug, name) VALUES (%s, %s, 'b')", (owner, slug)
        )
    return slug
