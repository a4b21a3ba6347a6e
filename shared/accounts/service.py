"""Accounts: sign-up, sign-in, refresh rotation, guests, password reset, invites,
profile, export and deletion. Every change and its event are one transaction."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import secrets
import unicodedata
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from shared import ratelimit
from shared.accounts.passwords import Passwords, check_password
from shared.accounts.principal import Principal
from shared.accounts.tokens import InvalidToken, IssuedToken, TokenIssuer, token_hash
from shared.db.unit import UnitOfWork, scope, unit_of_work
from shared.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ProtostarError,
)

log = logging.getLogger("protostar.accounts")

SOURCE_AUTH = "/protostar/auth"
SOURCE_USERS = "/protostar/users"
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LOGIN_ATTEMPTS_PER_15_MIN = 10


_USER = (
    "SELECT id, email, display_name, role, is_admin, locale, created_at FROM users WHERE id = %s"
)
_USER_LOCKED = _USER + " FOR UPDATE"


class Gone(ProtostarError):
    status = 410
    code = "gone"


@dataclass(frozen=True)
class User:
    id: str
    email: str
    display_name: str | None
    role: str
    is_admin: bool
    locale: str | None
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "display_name": self.display_name,
            "role": self.role,
            "is_admin": self.is_admin,
            "locale": self.locale,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Session:
    user: User
    access: IssuedToken
    refresh: IssuedToken

    def response(self) -> dict[str, Any]:
        return {
            "access_token": self.access.token,
            "refresh_token": self.refresh.token,
            "token_type": "Bearer",
            "expires_in": self.access.expires_at - self.access.issued_at,
            "user": self.user.public(),
        }


def _user(row: dict[str, Any]) -> User:
    return User(
        id=str(row["id"]),
        email=row["email"],
        display_name=row["display_name"],
        role=row["role"],
        is_admin=row["is_admin"],
        locale=row["locale"],
        created_at=row["created_at"],
    )


def normalize_email(raw: object) -> str:
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest("email is required", code="invalid_email")
    if len(raw) > 254:
        raise BadRequest("email is too long", code="invalid_email")
    try:
        valid = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadRequest(f"email is not valid: {exc}", code="invalid_email") from None
    return valid.normalized.lower()


def _sha(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def new_invite_code() -> str:
    chars = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(12))
    return f"PS-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def normalize_invite_code(raw: object) -> str:
    if not isinstance(raw, str):
        raise BadRequest("code is required", code="invalid_invite")
    code = raw.strip().upper().replace(" ", "")
    if not re.fullmatch(r"PS-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code):
        raise NotFound("no such invite code", code="invite_unknown")
    return code


class AccountService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        redis: Redis | None,
        *,
        passwords: Passwords,
        issuer: TokenIssuer,
        public_url: str,
        refresh_grace: float = 10.0,
        guest_per_ip_hour: int = 30,
        invites_per_protostar: int = 5,
        invite_ttl_days: int = 14,
        reset_ttl: int = 1800,
        broker_url: str | None = None,
    ) -> None:
        self.pool = pool
        self.broker_url = broker_url  # events go there right after their commit
        self.redis = redis
        self.passwords = passwords
        self.issuer = issuer
        self.public_url = public_url.rstrip("/")
        self.refresh_grace = refresh_grace
        self.guest_per_ip_hour = guest_per_ip_hour
        self.invites_per_protostar = invites_per_protostar
        self.invite_ttl = timedelta(days=invite_ttl_days)
        self.reset_ttl = timedelta(seconds=reset_ttl)

    def _unit(
        self, *, user: str | None = None, asker: str | None = None
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        return unit_of_work(self.pool, sink=self.broker_url, user=user, asker=asker)

    # ------------------------------------------------------------------ helpers
    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.passwords.hash, password)

    async def _verify(self, stored: str, password: str) -> bool:
        # Hashes are of the NFC form (check_password): a Hangul password typed or pasted
        # in NFD (macOS) must still match.
        normalized = unicodedata.normalize("NFC", password)
        return await asyncio.to_thread(self.passwords.verify, stored, normalized)

    async def _session(
        self, conn: AsyncConnection, user: User, family: str | None = None
    ) -> Session:
        access = self.issuer.issue("access", user.id, user.role, is_admin=user.is_admin)
        refresh = self.issuer.issue("refresh", user.id, user.role, is_admin=user.is_admin)
        await conn.execute(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, role, is_admin, "
            "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, to_timestamp(%s), "
            "to_timestamp(%s))",
            (
                refresh.jti,
                family or str(uuid.uuid4()),
                user.id,
                token_hash(refresh.token),
                user.role,
                user.is_admin,
                refresh.issued_at,
                refresh.expires_at,
            ),
        )
        return Session(user, access, refresh)

    async def _limit(self, key: str, limit: int, window: int, message: str) -> None:
        await ratelimit.hit(self.redis, key, limit, window, message)

    async def user_by_id(self, conn: AsyncConnection, user_id: str, *, lock: bool = False) -> User:
        cur = conn.cursor(row_factory=dict_row)
        query = _USER_LOCKED if lock else _USER
        await cur.execute(query, (user_id,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound("account not found", code="user_not_found")
        return _user(row)

    # ------------------------------------------------------------------ auth
    async def signup(self, email: object, password: object, display_name: object = None) -> Session:
        address = normalize_email(email)
        if not isinstance(password, str):
            raise BadRequest("password is required", code="weak_password")
        secret = check_password(password, email=address)
        name = _display_name(display_name)
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

    async def login(self, email: object, password: object, ip: str) -> Session:
        if not isinstance(email, str) or not isinstance(password, str) or not password:
            raise BadRequest("email and password are required", code="invalid_credentials")
        address = email.strip().lower()
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

    async def refresh(self, token: object) -> Session:
        if not isinstance(token, str) or not token:
            raise BadRequest("refresh_token is required", code="invalid_token")
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

    async def logout(self, token: object) -> None:
        if not isinstance(token, str) or not token:
            raise BadRequest("refresh_token is required", code="invalid_token")
        claims = self.issuer.verify(token, "refresh")
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = 'logout' "
                "WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM "
                "refresh_tokens WHERE id = %s AND token_hash = %s)",
                (claims["jti"], token_hash(token)),
            )

    async def guest(self, bot: object, ip: str) -> IssuedToken:
        if not isinstance(bot, str) or not SLUG.fullmatch(bot):
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

    async def request_password_reset(self, email: object) -> None:
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
                    "reset_url": f"{self.public_url}/reset#token={token}",
                    "expires_at": expires.isoformat(),
                },
            )

    async def confirm_password_reset(self, token: object, password: object) -> None:
        if not isinstance(token, str) or not token or len(token) > 200:
            raise BadRequest("token is required", code="invalid_reset_token")
        if not isinstance(password, str):
            raise BadRequest("password is required", code="weak_password")
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

    # ------------------------------------------------------------------ users
    async def get_user(self, user_id: str) -> User:
        async with self.pool.connection() as conn:
            return await self.user_by_id(conn, user_id)

    async def update_user(self, user_id: str, changes: dict[str, Any]) -> User:
        allowed = {"display_name", "locale", "password", "current_password"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise BadRequest(f"cannot change {unknown[0]!r}", code="invalid_field")
        async with self.pool.connection() as conn, conn.transaction():
            user = await self.user_by_id(conn, user_id, lock=True)
            if "display_name" in changes:
                await conn.execute(
                    "UPDATE users SET display_name = %s, updated_at = now() WHERE id = %s",
                    (_display_name(changes["display_name"]), user_id),
                )
            if "locale" in changes:
                if changes["locale"] not in ("ko", "en", None):
                    raise BadRequest("locale must be 'ko' or 'en'", code="invalid_locale")
                await conn.execute(
                    "UPDATE users SET locale = %s, updated_at = now() WHERE id = %s",
                    (changes["locale"], user_id),
                )
            if "password" in changes:
                cur = await conn.execute(
                    "SELECT password_hash FROM users WHERE id = %s", (user_id,)
                )
                stored = await cur.fetchone()
                current = changes.get("current_password")
                if (
                    stored is None
                    or not isinstance(current, str)
                    or not await self._verify(stored[0], current)
                ):
                    raise Forbidden("current_password is wrong", code="wrong_password")
                if not isinstance(changes["password"], str):
                    raise BadRequest("password must be a string", code="weak_password")
                secret = check_password(changes["password"], email=user.email)
                await conn.execute(
                    "UPDATE users SET password_hash = %s, password_changed_at = now(), "
                    "updated_at = now() WHERE id = %s",
                    (await self._hash(secret), user_id),
                )
                # A new password ends every session and every open reset link.
                await _revoke_everything(conn, user_id, "password_change")
            return await self.user_by_id(conn, user_id)

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
        }

    async def delete_user(self, user_id: str) -> list[str]:
        """Delete the account and every row that references it, in one transaction
        (bots, documents, chunks and vectors go by cascade). Returns the object-store
        prefixes the caller removes after the commit (originals live under the bots)."""
        async with self._unit(user=user_id) as uow:
            conn = uow.conn
            await self.user_by_id(conn, user_id, lock=True)
            cur = await conn.execute("SELECT id FROM bots WHERE owner_id = %s", (user_id,))
            prefixes = [f"bots/{row[0]}/" for row in await cur.fetchall()]
            await conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
            await uow.record("dev.protostar.user.deleted", SOURCE_USERS, {"user_id": user_id})
        return [*prefixes, f"users/{user_id}/"]

    # ------------------------------------------------------------------ invites
    async def issue_invite(self, principal: Principal) -> dict[str, Any]:
        """A new single-use code; the response is the only time it is shown in full."""
        if not (principal.may_own_bots or principal.is_admin):
            raise Forbidden("only protostars can issue invite codes", code="not_protostar")
        code = new_invite_code()
        expires = datetime.now(UTC) + self.invite_ttl
        async with self.pool.connection() as conn, conn.transaction():
            await self.user_by_id(conn, principal.subject, lock=True)  # serializes the count
            if not principal.is_admin:
                # Redeemed and still open codes count; expired unused ones do not (the
                # hourly token-cleanup deletes them, so counting them would make the
                # limit depend on when it last ran).
                cur = await conn.execute(
                    "SELECT count(*) FROM invites WHERE issued_by = %s "
                    "AND (redeemed_at IS NOT NULL OR expires_at > now())",
                    (principal.subject,),
                )
                row = await cur.fetchone()
                if row is not None and row[0] >= self.invites_per_protostar:
                    raise Forbidden(
                        f"you have issued all {self.invites_per_protostar} of your invites",
                        code="invite_limit",
                    )
            return await insert_invite(conn, code, expires, principal.subject)

    async def list_invites(self, principal: Principal) -> list[dict[str, Any]]:
        if principal.is_guest:
            raise Forbidden("sign in first", code="not_signed_in")
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, hint, created_at, expires_at, redeemed_at FROM invites "
                "WHERE issued_by = %s ORDER BY created_at DESC",
                (principal.subject,),
            )
            rows = await cur.fetchall()
        now = datetime.now(UTC)
        return [
            {
                "id": str(r["id"]),
                "hint": r["hint"],
                "created_at": r["created_at"].isoformat(),
                "expires_at": r["expires_at"].isoformat(),
                "status": "used"
                if r["redeemed_at"]
                else ("expired" if r["expires_at"] <= now else "open"),
            }
            for r in rows
        ]

    async def redeem_invite(self, user_id: str, raw_code: object) -> Session:
        code = normalize_invite_code(raw_code)
        async with self._unit() as uow:
            conn = uow.conn
            user = await self.user_by_id(conn, user_id, lock=True)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, expires_at, redeemed_at FROM invites WHERE code_hash = %s FOR UPDATE",
                (_sha(code),),
            )
            invite = await cur.fetchone()
            if invite is None:
                raise NotFound("no such invite code", code="invite_unknown")
            if invite["redeemed_at"] is not None:
                raise Conflict("this invite code was already used", code="invite_used")
            if invite["expires_at"] <= datetime.now(UTC):
                raise Gone("this invite code has expired", code="invite_expired")
            if user.role == "protostar":
                raise Conflict("you are a protostar already", code="already_protostar")
            await conn.execute(
                "UPDATE invites SET redeemed_by = %s, redeemed_at = now() WHERE id = %s",
                (user_id, invite["id"]),
            )
            await conn.execute(
                "UPDATE users SET role = 'protostar', updated_at = now() WHERE id = %s", (user_id,)
            )
            await uow.record(
                "dev.protostar.user.role_changed",
                SOURCE_USERS,
                {
                    "user_id": user_id,
                    "role": "protostar",
                    "previous_role": user.role,
                    "via": "invite",
                    "invite_id": str(invite["id"]),
                },
            )
            promoted = await self.user_by_id(conn, user_id)
            return await self._session(conn, promoted)


async def _revoke_everything(conn: AsyncConnection, user_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now(), revoke_reason = %s "
        "WHERE user_id = %s AND revoked_at IS NULL",
        (reason, user_id),
    )
    await conn.execute(
        "UPDATE password_resets SET used_at = now() WHERE user_id = %s AND used_at IS NULL",
        (user_id,),
    )


async def insert_invite(
    conn: AsyncConnection, code: str, expires: datetime, issued_by: str | None
) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO invites (code_hash, hint, issued_by, expires_at) VALUES (%s, %s, %s, %s) "
        "RETURNING id, hint, created_at, expires_at",
        (_sha(code), code[:7], issued_by, expires),
    )
    row = await cur.fetchone()
    assert row is not None
    return {
        "id": str(row["id"]),
        "code": code,
        "hint": row["hint"],
        "created_at": row["created_at"].isoformat(),
        "expires_at": row["expires_at"].isoformat(),
        "status": "open",
    }


def _display_name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("display_name must be a string", code="invalid_display_name")
    name = " ".join(value.split())
    if len(name) > 100 or any(ord(ch) < 32 for ch in value if ch not in "\t\n"):
        raise BadRequest(
            "display_name must be at most 100 printable characters", code="invalid_display_name"
        )
    return name or None


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        out.append(
            {
                k: v.isoformat()
                if isinstance(v, datetime)
                else (str(v) if isinstance(v, uuid.UUID) else v)
                for k, v in row.items()
            }
        )
    return out
