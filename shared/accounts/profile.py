"""The signed-in user's own account: read, change (a new password ends every session and
answers a fresh one), sign out everywhere, export everything stored about them, delete it
all. A change of password and a deletion need the current password, whose wrong guesses
are limited per user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from shared import ratelimit
from shared.accounts.base import AccountBase
from shared.accounts.contracts import ProfileChanges
from shared.accounts.passwords import check_password
from shared.accounts.records import (
    CURRENT_PASSWORD_FAILURES_PER_15_MIN,
    SOURCE_USERS,
    Session,
    User,
    _jsonable,
    _revoke_everything,
)
from shared.db.unit import scope
from shared.errors import (
    BadRequest,
    Forbidden,
)

_FAILURE_WINDOW = 900
TOO_MANY = "too_many_password_attempts"


class Profiles(AccountBase):
    async def get_user(self, user_id: str) -> User:
        async with self.pool.connection() as conn:
            return await self.user_by_id(conn, user_id)

    async def update_user(self, user_id: str, body: ProfileChanges) -> User | Session:
        """Change the fields the body sent (a field sent as null is cleared). With a new
        password (and the right current one) every session ends and a fresh one is the
        answer, so the caller stays signed in on this device only."""
        changes = {name: getattr(body, name) for name in body.model_fields_set}
        async with self.pool.connection() as conn, conn.transaction():
            user = await self.user_by_id(conn, user_id, lock=True)
            if "display_name" in changes:
                await conn.execute(
                    "UPDATE users SET display_name = %s, updated_at = now() WHERE id = %s",
                    (changes["display_name"], user_id),
                )
            if "locale" in changes:
                await conn.execute(
                    "UPDATE users SET locale = %s, updated_at = now() WHERE id = %s",
                    (changes["locale"], user_id),
                )
            if "password" not in changes:
                return await self.user_by_id(conn, user_id)
            await self._check_current_password(conn, user_id, changes.get("current_password"))
            if changes["password"] is None:
                raise BadRequest("password must be a string", code="weak_password")
            secret = check_password(changes["password"], email=user.email)
            await conn.execute(
                "UPDATE users SET password_hash = %s, password_changed_at = now(), "
                "updated_at = now() WHERE id = %s",
                (await self._hash(secret), user_id),
            )
            # A new password ends every session and every open reset link; this
            # device gets a new one.
            await _revoke_everything(conn, user_id, "password_change")
            return await self._session(conn, await self.user_by_id(conn, user_id))

    async def _check_current_password(
        self, conn: AsyncConnection, user_id: str, current: object
    ) -> None:
        """400 without a current password, 403 when it is wrong, 429 once the user has
        been wrong too often in 15 minutes (refused before it is even tried)."""
        if not isinstance(current, str) or not current:
            raise BadRequest(
                "current_password is required",
                code="current_password_required",
                details={"field": "current_password"},
            )
        key = f"current-password:{user_id}"
        await ratelimit.refuse_if_spent(
            self.redis,
            key,
            CURRENT_PASSWORD_FAILURES_PER_15_MIN,
            "too many wrong passwords; wait 15 minutes",
            code=TOO_MANY,
        )
        cur = await conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,))
        stored = await cur.fetchone()
        if stored is not None and await self._verify(stored[0], current):
            return
        await ratelimit.count(self.redis, key, _FAILURE_WINDOW)
        raise Forbidden("current_password is wrong", code="wrong_password")

    async def revoke_sessions(self, user_id: str) -> None:
        """Sign out everywhere: every refresh token of the user stops working (the access
        tokens already issued run out by themselves, within minutes)."""
        async with self.pool.connection() as conn, conn.transaction():
            await self.user_by_id(conn, user_id, lock=True)
            await _revoke_everything(conn, user_id, "sign_out_everywhere")

    async def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, as JSON (no secrets, no hashes)."""
        async with self.pool.connection() as conn:
            user = await self.user_by_id(conn, user_id)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT family_id, created_at, expires_at, rotated_at, revoked_at, "
                "revoke_reason FROM refresh_tokens WHERE user_id = %s ORDER BY created_at",
                (user_id,),
            )
            sessions = await cur.fetchall()
            await cur.execute(
                "SELECT hint, created_at, expires_at, redeemed_at, redeemed_by = %s AS mine "
                "FROM invites WHERE issued_by = %s OR redeemed_by = %s ORDER BY created_at",
                (user_id, user_id, user_id),
            )
            invites = await cur.fetchall()
            await cur.execute(
                "SELECT created_at, expires_at, used_at FROM password_resets "
                "WHERE user_id = %s ORDER BY created_at",
                (user_id,),
            )
            resets = await cur.fetchall()
            async with conn.transaction():
                # Bots are row-level secured: read them as their owner.
                await scope(conn, user=user_id)
                await cur.execute(
                    "SELECT id, slug, name, persona, greeting, suggested_questions, language, "
                    "allowed_origins, discoverable, created_at, updated_at FROM bots "
                    "WHERE owner_id = %s ORDER BY created_at",
                    (user_id,),
                )
                bots = await cur.fetchall()
                # Their talent searches (as run), and how often their bots were shown in
                # anyone's (the owner's Insights: counts, never the searcher).
                await cur.execute(
                    "SELECT id, query, criteria, result_limit, counts, created_at "
                    "FROM talent_searches WHERE user_id = %s ORDER BY created_at, id",
                    (user_id,),
                )
                searches = await cur.fetchall()
                await cur.execute(
                    "SELECT b.slug AS bot, a.rank, a.score, a.criteria, a.created_at "
                    "FROM talent_appearances AS a JOIN bots AS b ON b.id = a.bot_id "
                    "WHERE a.owner_id = %s ORDER BY a.created_at, b.slug",
                    (user_id,),
                )
                appearances = await cur.fetchall()
            async with conn.transaction():
                # Questions asked as this user, and their feedback (row-level secured by
                # the asker).
                await scope(conn, asker=f"user:{user_id}")
                await cur.execute(
                    "SELECT c.id AS conversation_id, c.title, m.id AS message_id, m.question, "
                    "m.answer, m.citations, m.answerable, m.created_at, f.rating, f.comment "
                    "FROM conversations c JOIN messages m ON m.conversation_id = c.id "
                    "LEFT JOIN feedback f ON f.message_id = m.id "
                    "WHERE c.asker = %s ORDER BY m.created_at",
                    (f"user:{user_id}",),
                )
                questions = await cur.fetchall()
        return {
            "exported_at": datetime.now(UTC).isoformat(),
            "user": user.public(),
            "sessions": _jsonable(sessions),
            "invites": _jsonable(invites),
            "password_resets": _jsonable(resets),
            "bots": _jsonable(bots),
            "questions": _jsonable(questions),
            "talent_searches": _jsonable(searches),
            "talent_appearances": _jsonable(appearances),
        }

    async def delete_user(self, user_id: str, current_password: str) -> list[str]:
        """Delete the account and every row that references it, in one transaction
        (bots, documents, chunks and vectors go by cascade; the sessions with them).
        Needs the current password. Returns the object-store prefixes the caller removes
        after the commit (originals live under the bots)."""
        async with self._unit(user=user_id) as uow:
            conn = uow.conn
            await self.user_by_id(conn, user_id, lock=True)
            await self._check_current_password(conn, user_id, current_password)
            cur = await conn.execute("SELECT id FROM bots WHERE owner_id = %s", (user_id,))
            prefixes = [f"bots/{row[0]}/" for row in await cur.fetchall()]
            await conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
            await uow.record("dev.protostar.user.deleted", SOURCE_USERS, {"user_id": user_id})
        return [*prefixes, f"users/{user_id}/"]
