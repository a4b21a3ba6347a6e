"""Invite codes: protostars (and admins) issue single-use codes; redeeming one makes a
stargazer a protostar."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg.rows import dict_row

from shared.accounts.base import AccountBase
from shared.accounts.principal import Principal
from shared.accounts.records import (
    SOURCE_USERS,
    Gone,
    Session,
    _sha,
    insert_invite,
    new_invite_code,
    normalize_invite_code,
)
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
)


class Invites(AccountBase):
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

    async def redeem_invite(self, user_id: str, raw_code: str) -> Session:
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
