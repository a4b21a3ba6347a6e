"""Password reset: the emailed single-use link (requested, then confirmed)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from psycopg.rows import dict_row

from shared.accounts.base import AccountBase
from shared.accounts.passwords import check_password
from shared.accounts.records import (
    SOURCE_AUTH,
    Session,
    _revoke_everything,
    _sha,
    normalize_email,
)
from shared.errors import (
    BadRequest,
)


class Resets(AccountBase):
    async def request_password_reset(self, email: str) -> None:
        """Always succeeds from the caller's view: nothing tells whether the email exists."""
        try:
            address = normalize_email(email)
        except BadRequest:
            return
        await self._limit(
            f"reset:{_sha(address).hex()}", 5, 3600, "too many reset requests; wait an hour"
        )
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + self.reset_ttl
        async with self._unit() as uow:
            conn = uow.conn
            cur = await conn.execute(
                "SELECT id, email FROM users WHERE lower(email) = %s", (address,)
            )
            row = await cur.fetchone()
            if row is None:
                return
            await conn.execute(
                "INSERT INTO password_resets (user_id, token_hash, expires_at) VALUES (%s, %s, %s)",
                (row[0], _sha(token), expires),
            )
            await uow.record(
                "dev.protostar.password_reset.requested",
                SOURCE_AUTH,
                {
                    "user_id": str(row[0]),
                    "email": row[1],
                    "reset_url": f"{self.dashboard_url}/reset#token={token}",
                    "expires_at": expires.isoformat(),
                },
            )

    async def confirm_password_reset(self, token: str, password: str) -> Session:
        """Set the new password, sign out every session of the account (the link may have
        been sent because someone else is in it) and sign in with a fresh one."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT r.id, r.user_id, r.expires_at, r.used_at, u.email FROM password_resets r "
                "JOIN users u ON u.id = r.user_id WHERE r.token_hash = %s FOR UPDATE OF r",
                (_sha(token),),
            )
            row = await cur.fetchone()
            if row is None:
                raise BadRequest("reset link is not valid", code="invalid_reset_token")
            if row["used_at"] is not None:
                raise BadRequest("reset link was already used", code="reset_token_used")
            if row["expires_at"] <= datetime.now(UTC):
                raise BadRequest("reset link has expired", code="reset_token_expired")
            secret = check_password(password, email=row["email"])
            await conn.execute(
                "UPDATE password_resets SET used_at = now() WHERE id = %s", (row["id"],)
            )
            await conn.execute(
                "UPDATE users SET password_hash = %s, password_changed_at = now(), "
                "updated_at = now() WHERE id = %s",
                (await self._hash(secret), row["user_id"]),
            )
            await _revoke_everything(conn, str(row["user_id"]), "password_reset")
            user = await self.user_by_id(conn, str(row["user_id"]))
            return await self._session(conn, user)
