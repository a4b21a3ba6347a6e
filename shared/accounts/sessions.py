"""Sessions: sign-up, sign-in, refresh-token rotation (with its reuse grace), sign-out and
guest identities."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.rows import dict_row

from shared.accounts.base import AccountBase
from shared.accounts.contracts import Credentials, Signup
from shared.accounts.passwords import check_password
from shared.accounts.records import (
    LOGIN_ATTEMPTS_PER_15_MIN,
    SLUG,
    SOURCE_AUTH,
    Session,
    _user,
)
from shared.accounts.tokens import InvalidToken, IssuedToken, token_hash
from shared.errors import (
    BadRequest,
    Conflict,
)

log = logging.getLogger("protostar.accounts")


class Sessions(AccountBase):
    async def signup(self, body: Signup) -> Session:
        """A new stargazer, signed in. The body's email and display name are normalised
        by the contract; the password is checked here, against the email."""
        address = body.email
        secret = check_password(body.password, email=address)
        name = body.display_name
        hashed = await self._hash(secret)
        async with self._unit() as uow:
            conn = uow.conn
            cur = conn.cursor(row_factory=dict_row)
            try:
                await cur.execute(
                    "INSERT INTO users (email, password_hash, display_name) VALUES (%s, %s, %s)"
                    " RETURNING id, email, display_name, role, is_admin, locale, created_at",
                    (address, hashed, name),
                )
            except errors.UniqueViolation:
                raise Conflict(
                    "an account with this email already exists", code="email_taken"
                ) from None
            row = await cur.fetchone()
            assert row is not None
            user = _user(row)
            await uow.record(
                "dev.protostar.user.signed_up",
                SOURCE_AUTH,
                {"user_id": user.id, "role": user.role},
            )
            return await self._session(conn, user)

    async def login(self, credentials: Credentials, ip: str) -> Session:
        address = credentials.email.strip().lower()
        password = credentials.password
        digest = hashlib.sha256(address.encode()).hexdigest()
        await self._limit(
            f"login:{digest}:{ip}",
            LOGIN_ATTEMPTS_PER_15_MIN,
            900,
            "too many sign-in attempts; wait 15 minutes",
        )
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, email, display_name, role, is_admin, locale, created_at, "
                "password_hash FROM users WHERE lower(email) = %s",
                (address,),
            )
            row = await cur.fetchone()
        ok = await self._verify(
            row["password_hash"] if row else self.passwords.dummy_hash, password[:1024]
        )
        if row is None or not ok:
            async with self._unit() as uow:
                await uow.record(
                    "dev.protostar.auth.login_failed",
                    SOURCE_AUTH,
                    {
                        "reason": "unknown_email" if row is None else "wrong_password",
                        "email_sha256": digest,
                        **({"user_id": str(row["id"])} if row else {}),
                    },
                )
            raise InvalidToken("email or password is wrong", code="invalid_credentials")
        user = _user(row)
        rehashed = (
            await self._hash(unicodedata.normalize("NFC", password))
            if self.passwords.needs_rehash(row["password_hash"])
            else None
        )
        async with self._unit() as uow:
            if rehashed is not None:
                await uow.conn.execute(
                    "UPDATE users SET password_hash = %s WHERE id = %s", (rehashed, user.id)
                )
            return await self._session(uow.conn, user)

    async def refresh(self, token: str) -> Session:
        claims = self.issuer.verify(token, "refresh")
        revoke_family: str | None = None
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, family_id, user_id, token_hash, rotated_at, successor_id, "
                "revoked_at, expires_at FROM refresh_tokens WHERE id = %s FOR UPDATE",
                (claims["jti"],),
            )
            row = await cur.fetchone()
            if (
                row is None
                or row["token_hash"] != token_hash(token)
                or (str(row["user_id"]) != claims["sub"])
            ):
                raise InvalidToken("refresh token is not valid", code="invalid_token")
            if row["revoked_at"] is not None:
                raise InvalidToken("this session was signed out", code="token_revoked")
            user = await self.user_by_id(conn, str(row["user_id"]))
            if row["rotated_at"] is None:
                session = await self._session(conn, user, family=str(row["family_id"]))
                await conn.execute(
                    "UPDATE refresh_tokens SET rotated_at = now(), successor_id = %s WHERE id = %s",
                    (session.refresh.jti, row["id"]),
                )
                return session
            age = datetime.now(UTC) - row["rotated_at"]
            grace = await self._grace_successor(conn, row, age)
            if grace is not None:
                access = self.issuer.issue("access", user.id, user.role, is_admin=user.is_admin)
                return Session(user, access, grace)
            revoke_family = str(row["family_id"])
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'reuse' "
                "WHERE family_id = %s AND revoked_at IS NULL",
                (revoke_family,),
            )
        log.warning(
            "refresh token reuse: family revoked",
            extra={"user_id": claims["sub"], "family_id": revoke_family},
        )
        raise InvalidToken("refresh token was already used; sign in again", code="token_reused")

    async def _grace_successor(
        self, conn: AsyncConnection, row: dict[str, Any], age: timedelta
    ) -> IssuedToken | None:
        """The successor again, for a client that lost the rotation's response."""
        if age.total_seconds() > self.refresh_grace or row["successor_id"] is None:
            return None
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT id, user_id, role, is_admin, created_at, expires_at, rotated_at, "
            "revoked_at, token_hash FROM refresh_tokens WHERE id = %s",
            (row["successor_id"],),
        )
        succ = await cur.fetchone()
        if succ is None or succ["rotated_at"] is not None or succ["revoked_at"] is not None:
            return None
        again = self.issuer.issue(
            "refresh",
            str(succ["user_id"]),
            succ["role"],
            is_admin=succ["is_admin"],
            jti=str(succ["id"]),
            issued_at=int(succ["created_at"].timestamp()),
            expires_at=int(succ["expires_at"].timestamp()),
        )
        return again if token_hash(again.token) == succ["token_hash"] else None

    async def logout(self, token: str) -> None:
        claims = self.issuer.verify(token, "refresh")
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'logout' "
                "WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM "
                "refresh_tokens WHERE id = %s AND token_hash = %s)",
                (claims["jti"], token_hash(token)),
            )

    async def guest(self, bot: str, ip: str) -> IssuedToken:
        if not SLUG.fullmatch(bot):
            raise BadRequest("bot must be a bot's slug", code="invalid_bot")
        hour = datetime.now(UTC).strftime("%Y%m%d%H")
        await self._limit(
            f"guest-ip:{hour}:{ip}",
            self.guest_per_ip_hour,
            3600,
            "too many guest sessions from this address; sign up or wait an hour",
        )
        visitor = "v_" + base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        return self.issuer.issue("guest", visitor, "guest", bot=bot)
