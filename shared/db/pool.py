"""The async psycopg 3 pool every function uses.

Connections are in autocommit mode: a single statement commits by itself, and
``async with conn.transaction():`` is the one way to group statements (the unit of
work), so nothing is ever left in an implicit transaction that the pool rolls back.
Connections are checked before they are handed out, so a pool outlives a PostgreSQL
restart: broken connections are thrown away and new ones made on demand.
"""

from __future__ import annotations

import logging

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)


async def _configure(conn: AsyncConnection) -> None:
    # Functions run short statements; a runaway query must not hold a connection.
    await conn.execute("SET statement_timeout = '30s'")
    await conn.execute("SET idle_in_transaction_session_timeout = '60s'")


async def open_pool(
    url: str, *, name: str, min_size: int = 1, max_size: int = 10, conn_timeout: float = 5.0
) -> AsyncConnectionPool:
    """Open a checked pool without waiting for the database: the first use waits."""
    pool: AsyncConnectionPool = AsyncConnectionPool(
        url,
        name=name,
        min_size=min_size,
        max_size=max_size,
        timeout=conn_timeout,
        open=False,
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=0,  # keep trying in the background, forever
        kwargs={
            "application_name": name,
            "connect_timeout": max(1, int(conn_timeout)),
            "autocommit": True,
        },
    )
    await pool.open(wait=False)
    return pool
