"""Hourly token cleanup (the token-cleanup function): delete what can no longer be
used. Refresh tokens past their expiry (their JWT is refused by its ``exp`` anyway),
password resets that were used or have expired, and invites that expired unredeemed.
Redeemed invites stay: they record who brought whom in.

Deletes run in batches, each its own short transaction, so a large backlog never
holds locks for long; SKIP LOCKED leaves rows a request is working on to the next run.
"""

from __future__ import annotations

import logging

from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("protostar.accounts")

BATCH = 1000

# Fixed statements (no value is ever formatted into them), one per kind of row.
_DELETES: dict[str, str] = {
    "refresh_tokens": (
        "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens "
        "WHERE expires_at <= now() LIMIT %s FOR UPDATE SKIP LOCKED)"
    ),
    "password_resets": (
        "DELETE FROM password_resets WHERE id IN (SELECT id FROM password_resets "
        "WHERE used_at IS NOT NULL OR expires_at <= now() LIMIT %s FOR UPDATE SKIP LOCKED)"
    ),
    "invites": (
        "DELETE FROM invites WHERE id IN (SELECT id FROM invites "
        "WHERE redeemed_at IS NULL AND expires_at <= now() LIMIT %s FOR UPDATE SKIP LOCKED)"
    ),
}


async def delete_expired(pool: AsyncConnectionPool, batch: int = BATCH) -> dict[str, int]:
    """Delete expired refresh tokens, used or expired resets, expired unredeemed invites;
    returns how many rows of each went."""
    removed: dict[str, int] = {}
    for table, statement in _DELETES.items():
        total = 0
        while True:
            async with pool.connection() as conn, conn.transaction():
                cur = await conn.execute(statement, (batch,))
                total += cur.rowcount
            if cur.rowcount < batch:
                break
        removed[table] = total
    return removed
