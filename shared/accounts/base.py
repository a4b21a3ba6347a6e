"""What every part of the account service stands on: the pool, Redis, password hashing,
token issuing, the unit of work and the user row."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from shared import ratelimit
from shared.accounts.passwords import Passwords
from shared.accounts.records import (
    _USER,
    _USER_LOCKED,
    Session,
    User,
    _user,
)
from shared.accounts.tokens import TokenIssuer, token_hash
from shared.db.unit import UnitOfWork, unit_of_work
from shared.errors import (
    NotFound,
)


class AccountBase:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        redis: Redis | None,
        *,
        passwords: Passwords,
        issuer: TokenIssuer,
        dashboard_url: str,
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
        self.dashboard_url = dashboard_url.rstrip("/")  # where reset links lead
        self.refresh_grace = refresh_grace
        self.guest_per_ip_hour = guest_per_ip_hour
        self.invites_per_protostar = invites_per_protostar
        self.invite_ttl = timedelta(days=invite_ttl_days)
        self.reset_ttl = timedelta(seconds=reset_ttl)

    def _unit(
        self, *, user: str | None = None, asker: str | None = None
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        return unit_of_work(self.pool, sink=self.broker_url, user=user, asker=asker)

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
