"""Storing bots: create, list, read and change a protostar's own bots, and the public
view of one bot for its widget.

Every owner query runs in a transaction that first sets ``app.user_id`` (transaction
local), which the row-level security policies of ``bots`` key on: the app role sees and
writes only that user's rows. Queries also name the owner explicitly, so each is scoped
twice. The public view goes through ``bot_public(slug)``, a SECURITY DEFINER function
that returns only public columns (see migration 0004 for why).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from shared.accounts.principal import Principal
from shared.bots import validation
from shared.bots.contracts import BotSettings, NewBot
from shared.bots.owned import bot_owner, no_such_bot
from shared.db.unit import scope, unit_of_work
from shared.errors import Conflict, Forbidden, NotFound
from shared.resources import Resources

log = logging.getLogger("protostar.bots")

_COLUMNS = (
    "id, owner_id, slug, name, persona, greeting, suggested_questions, language, "
    "allowed_origins, discoverable, discord_webhook, discord_webhook_disabled_at, "
    "discord_webhook_disabled_reason, created_at, updated_at"
)
_SELECT = sql.SQL("SELECT {} FROM bots ").format(sql.SQL(_COLUMNS))
_LIST = _SELECT + sql.SQL("WHERE owner_id = %s ORDER BY created_at, slug")
_GET = _SELECT + sql.SQL("WHERE slug = %s AND owner_id = %s")
_JSON_COLUMNS = frozenset({"suggested_questions", "allowed_origins"})


@dataclass(frozen=True)
class PublicBot:
    """What the widget needs, and nothing private: no persona, owner, origins or webhook."""

    slug: str
    name: str
    greeting: str
    suggested_questions: tuple[str, ...]
    language: str

    def public(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "greeting": self.greeting,
            "suggested_questions": list(self.suggested_questions),
            "language": self.language,
        }


@dataclass(frozen=True)
class Bot:
    id: str
    owner_id: str
    slug: str
    name: str
    persona: str
    greeting: str
    suggested_questions: tuple[str, ...]
    language: str
    allowed_origins: tuple[str, ...]
    discoverable: bool
    discord_webhook: str | None
    created_at: datetime
    updated_at: datetime
    # Set by notify when Discord said the webhook is gone; cleared by setting one again.
    discord_webhook_disabled_at: datetime | None = None
    discord_webhook_disabled_reason: str | None = None

    def owner_view(self) -> dict[str, Any]:
        """Everything, for the owner (the webhook included: it is theirs to see), and
        whether notify stopped using the webhook, and why."""
        disabled_at = self.discord_webhook_disabled_at
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "persona": self.persona,
            "greeting": self.greeting,
            "suggested_questions": list(self.suggested_questions),
            "language": self.language,
            "allowed_origins": list(self.allowed_origins),
            "discoverable": self.discoverable,
            "discord_webhook": self.discord_webhook,
            "discord_webhook_disabled_at": disabled_at.isoformat() if disabled_at else None,
            "discord_webhook_disabled_reason": self.discord_webhook_disabled_reason,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _bot(row: Mapping[str, Any]) -> Bot:
    return Bot(
        id=str(row["id"]),
        owner_id=str(row["owner_id"]),
        slug=row["slug"],
        name=row["name"],
        persona=row["persona"],
        greeting=row["greeting"],
        suggested_questions=tuple(row["suggested_questions"]),
        language=row["language"],
        allowed_origins=tuple(row["allowed_origins"]),
        discoverable=row["discoverable"],
        discord_webhook=row["discord_webhook"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        discord_webhook_disabled_at=row["discord_webhook_disabled_at"],
        discord_webhook_disabled_reason=row["discord_webhook_disabled_reason"],
    )


def _param(column: str, value: object) -> object:
    return Jsonb(value) if column in _JSON_COLUMNS else value


class BotService:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create(self, principal: Principal, body: NewBot) -> Bot:
        owner_id = bot_owner(principal)
        values = body.values()
        columns = ["owner_id", *values]
        query = sql.SQL("INSERT INTO bots ({}) VALUES ({}) RETURNING {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.SQL(", ").join(sql.Placeholder() for _ in columns),
            sql.SQL(_COLUMNS),
        )
        params = [owner_id, *(_param(c, v) for c, v in values.items())]
        async with unit_of_work(self.pool, user=owner_id) as uow:
            conn = uow.conn
            role = await conn.execute("SELECT role FROM users WHERE id = %s FOR SHARE", (owner_id,))
            user = await role.fetchone()
            if user is None or user[0] != "protostar":
                raise Forbidden("only protostars have bots", code="not_protostar")
            cur = conn.cursor(row_factory=dict_row)
            try:
                await cur.execute(query, params)
            except errors.UniqueViolation:
                raise Conflict(
                    f"the slug {values['slug']!r} is taken; choose another", code="slug_taken"
                ) from None
            row = await cur.fetchone()
        assert row is not None
        bot = _bot(row)
        log.info("bot created", extra={"bot_id": bot.id, "user_id": owner_id})
        return bot

    async def list(self, principal: Principal) -> list[Bot]:
        owner_id = bot_owner(principal)
        async with self.pool.connection() as conn, conn.transaction():
            await scope(conn, user=owner_id)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(_LIST, (owner_id,))
            rows = await cur.fetchall()
        return [_bot(row) for row in rows]

    async def get(self, principal: Principal, slug: str) -> Bot:
        owner_id = bot_owner(principal)
        if not validation.is_slug(slug):
            raise no_such_bot(slug)
        async with self.pool.connection() as conn, conn.transaction():
            await scope(conn, user=owner_id)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(_GET, (slug, owner_id))
            row = await cur.fetchone()
        if row is None:
            raise no_such_bot(slug)
        return _bot(row)

    async def update(self, principal: Principal, slug: str, body: BotSettings) -> Bot:
        owner_id = bot_owner(principal)
        if not validation.is_slug(slug):
            raise no_such_bot(slug)
        changes = body.changes(slug)
        if not changes:
            return await self.get(principal, slug)
        assignments: list[sql.Composable] = [
            sql.SQL("{} = %s").format(sql.Identifier(column)) for column in changes
        ]
        if "discord_webhook" in changes:
            # A webhook set (again) or removed: whatever notify disabled is history.
            assignments.append(
                sql.SQL(
                    "discord_webhook_disabled_at = NULL, discord_webhook_disabled_reason = NULL"
                )
            )
        query = sql.SQL(
            "UPDATE bots SET {}, updated_at = now() WHERE slug = %s AND owner_id = %s RETURNING {}"
        ).format(sql.SQL(", ").join(assignments), sql.SQL(_COLUMNS))
        params = [*(_param(c, v) for c, v in changes.items()), slug, owner_id]
        async with unit_of_work(self.pool, user=owner_id) as uow:
            cur = uow.conn.cursor(row_factory=dict_row)
            await cur.execute(query, params)
            row = await cur.fetchone()
        if row is None:
            raise no_such_bot(slug)
        log.info(
            "bot updated",
            extra={"bot_id": str(row["id"]), "user_id": owner_id, "fields": sorted(changes)},
        )
        return _bot(row)

    async def public(self, slug: str) -> PublicBot:
        """The widget's view of a bot, for anyone (404 when there is no such bot)."""
        if not validation.is_slug(slug):
            raise NotFound("no such bot", code="bot_not_found")
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT slug, name, greeting, suggested_questions, language FROM bot_public(%s)",
                (slug,),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no such bot", code="bot_not_found")
        return PublicBot(
            slug=row["slug"],
            name=row["name"],
            greeting=row["greeting"],
            suggested_questions=tuple(row["suggested_questions"]),
            language=row["language"],
        )

    async def allowed_origins(self, slug: str) -> tuple[str, ...]:
        """The exact origins allowed to embed bot ``slug`` (its CORS and frame-ancestors
        list), for anyone; 404 when there is no such bot."""
        if not validation.is_slug(slug):
            raise NotFound("no such bot", code="bot_not_found")
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT allowed_origins FROM bot_allowed_origins(%s)", (slug,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no such bot", code="bot_not_found")
        return tuple(str(origin) for origin in row[0])


async def bot_service(resources: Resources) -> BotService:
    return BotService(await resources.pool())
