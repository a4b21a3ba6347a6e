"""A visitor's conversations, their history for follow-ups, the owner's read-only view of
a bot's conversations, and feedback on answers; row-level secured by the asker
(``app.asker``) and, for the owner's view, by ``app.user_id``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.accounts.principal import Principal
from shared.bots.owned import no_such_bot, owned_bot_id
from shared.chat.answer import BotRef
from shared.chat.contracts import FeedbackBody
from shared.chat.generation import Turn
from shared.chat.questions import _UUID, asker_of
from shared.db.unit import scope, unit_of_work
from shared.errors import NotFound

HISTORY_TURNS = 3


async def _as_asker(conn: AsyncConnection, asker: str) -> None:
    await scope(conn, asker=asker)


def _iso(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


class Conversations:
    """The conversation half of :class:`shared.chat.service.ChatService`."""

    pool: AsyncConnectionPool

    async def history(self, principal: Principal, bot: BotRef, conversation_id: str) -> list[Turn]:
        async with self.pool.connection() as conn, conn.transaction():
            await _as_asker(conn, asker_of(principal))
            cur = await conn.execute(
                "SELECT 1 FROM conversations WHERE id = %s AND bot_id = %s",
                (conversation_id, bot.id),
            )
            if await cur.fetchone() is None:
                raise NotFound("no such conversation", code="conversation_not_found")
            cur = await conn.execute(
                "SELECT standalone, answer FROM messages WHERE conversation_id = %s "
                "ORDER BY created_at DESC, id LIMIT %s",
                (conversation_id, HISTORY_TURNS),
            )
            rows = await cur.fetchall()
        return [Turn(q, a) for q, a in reversed(rows)]

    async def conversations(
        self, principal: Principal, bot_slug: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The caller's own conversations; with ``bot_slug``, the conversations visitors
        had with that bot, for its owner (who asked is not shown: only whether it was a
        guest or a signed-in user)."""
        if bot_slug is not None:
            return await self._bot_conversations(principal, bot_slug, limit)
        asker = asker_of(principal)
        async with self.pool.connection() as conn, conn.transaction():
            await _as_asker(conn, asker)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT c.id::text AS id, b.slug AS bot, c.title, c.created_at, c.updated_at, "
                "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
                "AS message_count "
                "FROM conversations c JOIN bot_slugs(ARRAY(SELECT DISTINCT bot_id FROM "
                "conversations WHERE asker = %s)) b ON b.id = c.bot_id "
                "WHERE c.asker = %s ORDER BY c.updated_at DESC LIMIT %s",
                (asker, asker, limit),
            )
            rows = await cur.fetchall()
        return [_iso(r) for r in rows]

    async def _bot_conversations(
        self, principal: Principal, slug: str, limit: int
    ) -> list[dict[str, Any]]:
        if not principal.may_own_bots:
            raise no_such_bot(slug)  # a visitor's view: no bot of theirs by that name
        async with self.pool.connection() as conn, conn.transaction():
            bot_id = await owned_bot_id(conn, principal.subject, slug)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT c.id::text AS id, %s AS bot, c.title, c.created_at, c.updated_at, "
                "split_part(c.asker, ':', 1) AS asker_kind, "
                "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
                "AS message_count "
                "FROM conversations c WHERE c.bot_id = %s AND c.bot_owner_id = %s "
                "ORDER BY c.updated_at DESC LIMIT %s",
                (slug, bot_id, principal.subject, limit),
            )
            rows = await cur.fetchall()
        return [_iso(r) for r in rows]

    async def conversation(self, principal: Principal, raw_id: str) -> dict[str, Any]:
        """One conversation, to its asker, or (read-only) to the owner of its bot."""
        if not _UUID.fullmatch(raw_id):
            raise NotFound("no such conversation", code="conversation_not_found")
        asker = asker_of(principal)
        owner = "" if principal.is_guest else principal.subject
        async with self.pool.connection() as conn, conn.transaction():
            await scope(conn, asker=asker, user=owner)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT c.id::text AS id, c.bot_id::text AS bot_id, c.title, c.created_at, "
                "c.updated_at, c.asker = %s AS mine FROM conversations c "
                "WHERE c.id = %s AND (c.asker = %s OR c.bot_owner_id::text = %s)",
                (asker, raw_id, asker, owner),
            )
            conv = await cur.fetchone()
            if conv is None:
                raise NotFound("no such conversation", code="conversation_not_found")
            await cur.execute(
                "SELECT m.id::text AS id, m.question, m.answer, m.citations, m.answerable, "
                "m.provider, m.latency_ms, m.created_at, f.rating, f.comment "
                "FROM messages m LEFT JOIN feedback f ON f.message_id = m.id "
                "WHERE m.conversation_id = %s ORDER BY m.created_at, m.id",
                (raw_id,),
            )
            messages = await cur.fetchall()
            await cur.execute(
                "SELECT id::text AS id, slug FROM bot_slugs(ARRAY[%s::uuid])", (conv["bot_id"],)
            )
            slug = await cur.fetchone()
        view = _iso(conv)
        view["bot"] = slug["slug"] if slug else None
        view["view"] = "asker" if view.pop("mine") else "owner"
        del view["bot_id"]
        view["messages"] = [
            {
                **_iso({k: v for k, v in m.items() if k not in ("rating", "comment")}),
                "feedback": (
                    {"rating": m["rating"], "comment": m["comment"]} if m["rating"] else None
                ),
            }
            for m in messages
        ]
        return view

    async def feedback(
        self, principal: Principal, raw_id: str, body: FeedbackBody
    ) -> dict[str, Any]:
        rating, comment = body.rating, body.comment
        if not _UUID.fullmatch(raw_id):
            raise NotFound("no such message", code="message_not_found")
        asker = asker_of(principal)
        async with unit_of_work(self.pool, asker=asker) as uow:
            conn = uow.conn
            cur = await conn.execute(
                "SELECT bot_id, bot_owner_id FROM messages WHERE id = %s AND asker = %s",
                (raw_id, asker),
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound("no such message", code="message_not_found")
            cur = await conn.execute(
                "INSERT INTO feedback (message_id, bot_id, bot_owner_id, asker, rating, comment) "
                "VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (message_id) DO UPDATE SET rating = EXCLUDED.rating, "
                "comment = EXCLUDED.comment, updated_at = now() "
                "RETURNING created_at, updated_at",
                (raw_id, row[0], row[1], asker, rating, comment),
            )
            saved = await cur.fetchone()
        assert saved is not None
        return {
            "message_id": raw_id,
            "rating": rating,
            "comment": comment,
            "created_at": saved[0].isoformat(),
            "updated_at": saved[1].isoformat(),
        }
