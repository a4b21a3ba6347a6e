"""The one rule for the owner's side of a bot: who may own bots, and "the caller's bot
by slug, or 404" (another owner's bot is as absent as one that does not exist)."""

from __future__ import annotations

from psycopg import AsyncConnection

from shared.accounts.principal import Principal
from shared.bots import validation
from shared.db.unit import scope
from shared.errors import Forbidden, NotFound


def bot_owner(principal: Principal) -> str:
    """The user id of a caller who may own bots; anyone else gets 403 ``not_protostar``."""
    if not principal.may_own_bots:
        raise Forbidden("only protostars have bots; redeem an invite first", code="not_protostar")
    return principal.subject


def no_such_bot(slug: str) -> NotFound:
    return NotFound(f"you have no bot {slug!r}", code="bot_not_found")


async def owned_bot_id(conn: AsyncConnection, owner: str, slug: str) -> str:
    """Scope the transaction to ``owner`` and return the id of their bot ``slug``
    (404 for a bad slug, a missing bot or anyone else's)."""
    if not validation.is_slug(slug):
        raise no_such_bot(slug)
    await scope(conn, user=owner)
    cur = await conn.execute(
        "SELECT id::text FROM bots WHERE slug = %s AND owner_id = %s", (slug, owner)
    )
    row = await cur.fetchone()
    if row is None:
        raise no_such_bot(slug)
    return str(row[0])
