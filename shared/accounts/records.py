"""The accounts' vocabulary: users, sessions, invite codes and the small helpers every part of
the account service shares (normalising input, revoking a user's sessions)."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from shared.accounts.tokens import IssuedToken
from shared.errors import (
    BadRequest,
    NotFound,
    ProtostarError,
)

SOURCE_AUTH = "/protostar/auth"
SOURCE_USERS = "/protostar/users"
EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LOGIN_ATTEMPTS_PER_15_MIN = 10
# Wrong current passwords (a password change, a deletion) per user per 15 minutes: an
# access token alone must not be a way to guess the password.
CURRENT_PASSWORD_FAILURES_PER_15_MIN = 5


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
    if len(raw) > EMAIL_MAX:
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


def display_name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("display_name must be a string", code="invalid_display_name")
    name = " ".join(value.split())
    if len(name) > DISPLAY_NAME_MAX or any(ord(ch) < 32 for ch in value if ch not in "\t\n"):
        raise BadRequest(
            f"display_name must be at most {DISPLAY_NAME_MAX} printable characters",
            code="invalid_display_name",
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
