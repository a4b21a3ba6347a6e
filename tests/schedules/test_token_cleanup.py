"""token-cleanup deletes only what can no longer be used: expired refresh tokens,
used or expired password resets, expired unredeemed invites."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from localplatform.manifests.load import load_manifests
from localplatform.manifests.pingsource import ping_event_attributes
from localplatform.runtime.topology import build_topology
from shared.accounts.cleanup import delete_expired
from shared.db.pool import open_pool
from shared.events.cloudevent import CloudEvent, to_binary
from tests.conftest import ROOT, Database

NOW = datetime.now(UTC)
PAST = NOW - timedelta(minutes=1)
FUTURE = NOW + timedelta(hours=1)


@pytest.fixture
async def pool(pg: Database) -> AsyncIterator[AsyncConnectionPool]:
    p = await open_pool(pg.app_url, name="cleanup-test", min_size=1, max_size=4)
    yield p
    await p.close()


def seed(pg: Database) -> dict[str, list[str]]:
    """Rows of one fresh user: names say whether each should survive."""
    keep: list[str] = []
    gone: list[str] = []
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
            (f"c-{uuid.uuid4().hex[:10]}@example.com",),
        ).fetchone()
        assert user is not None
        family = uuid.uuid4()

        def token(expires: datetime, successor: object = None) -> str:
            row = conn.execute(
                "INSERT INTO refresh_tokens (family_id, user_id, token_hash, role, expires_at, "
                "rotated_at, successor_id) VALUES (%s, %s, %s, 'stargazer', %s, %s, %s) "
                "RETURNING id",
                (family, user[0], os.urandom(32), expires, successor and NOW, successor),
            ).fetchone()
            assert row is not None
            return str(row[0])

        live = token(FUTURE)
        keep.append(live)
        gone.append(token(PAST, successor=live))  # rotated and expired
        gone.append(token(PAST))
        revoked_live = token(FUTURE)
        conn.execute("UPDATE refresh_tokens SET revoked_at = now() WHERE id = %s", (revoked_live,))
        keep.append(revoked_live)  # revoked but unexpired: kept for reuse detection

        def reset(expires: datetime, used: bool) -> str:
            row = conn.execute(
                "INSERT INTO password_resets (user_id, token_hash, expires_at, used_at) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (user[0], os.urandom(32), expires, NOW if used else None),
            ).fetchone()
            assert row is not None
            return str(row[0])

        keep.append(reset(FUTURE, used=False))
        gone += [reset(FUTURE, used=True), reset(PAST, used=False), reset(PAST, used=True)]

        def invite(expires: datetime, redeemed: bool) -> str:
            row = conn.execute(
                "INSERT INTO invites (code_hash, hint, issued_by, expires_at, redeemed_by, "
                "redeemed_at) VALUES (%s, 'PS-XXXX', %s, %s, %s, %s) RETURNING id",
                (
                    os.urandom(32),
                    user[0],
                    expires,
                    user[0] if redeemed else None,
                    NOW if redeemed else None,
                ),
            ).fetchone()
            assert row is not None
            return str(row[0])

        keep += [invite(FUTURE, redeemed=False), invite(PAST, redeemed=True)]
        keep.append(invite(FUTURE, redeemed=True))
        gone.append(invite(PAST, redeemed=False))
    return {"keep": keep, "gone": gone}


def present(pg: Database, ids: list[str]) -> set[str]:
    with psycopg.connect(pg.superuser_url) as conn:
        rows = conn.execute(
            "SELECT id::text FROM refresh_tokens WHERE id = ANY(%(ids)s::uuid[]) "
            "UNION ALL SELECT id::text FROM password_resets WHERE id = ANY(%(ids)s::uuid[]) "
            "UNION ALL SELECT id::text FROM invites WHERE id = ANY(%(ids)s::uuid[])",
            {"ids": ids},
        ).fetchall()
    return {r[0] for r in rows}


async def test_only_expired_rows_are_deleted(pg: Database, pool: AsyncConnectionPool) -> None:
    rows = seed(pg)
    assert present(pg, rows["keep"] + rows["gone"]) == set(rows["keep"] + rows["gone"])
    removed = await delete_expired(pool, batch=2)  # small batches: the loop runs
    assert present(pg, rows["keep"] + rows["gone"]) == set(rows["keep"])
    assert removed["refresh_tokens"] >= 2
    assert removed["password_resets"] >= 3
    assert removed["invites"] >= 1
    again = await delete_expired(pool)
    assert again == {"refresh_tokens": 0, "password_resets": 0, "invites": 0}
    with psycopg.connect(pg.superuser_url) as conn:
        successor = conn.execute(
            "SELECT count(*) FROM refresh_tokens WHERE id = %s", (rows["keep"][0],)
        ).fetchone()
    assert successor == (1,)


async def test_the_function_cleans_up_on_its_ping(pg: Database, database_env: None) -> None:
    from functions_framework.aio import create_asgi_app

    import shared.resources

    rows = seed(pg)
    topology = build_topology(load_manifests(ROOT / "knative" / "base"))
    (spec,) = [p for p in topology.pingsources if p.name == "token-cleanup"]
    headers, body = to_binary(CloudEvent(ping_event_attributes(spec, NOW, "p1"), spec.data))
    app = create_asgi_app("token_cleanup", str(ROOT / "functions/token_cleanup/main.py"))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://token-cleanup"
        ) as client:
            response = await client.post("/", headers=headers, content=body)
        assert response.status_code == 202, response.text
        assert present(pg, rows["keep"] + rows["gone"]) == set(rows["keep"])
    finally:
        if shared.resources._current is not None:
            await shared.resources._current.close()


async def test_expired_unused_invites_stop_counting_toward_the_limit(
    pg: Database, pool: AsyncConnectionPool, accounts_env: dict[str, str]
) -> None:
    """INVITES_PER_PROTOSTAR counts open and redeemed codes, so the limit is the same
    before and after token-cleanup deletes an expired one (2 in the test settings)."""
    from tests.accounts.conftest import bearer
    from tests.bots.conftest import Gateway, become_protostar, new_client

    async with new_client(Gateway()) as client:
        session = await become_protostar(client, accounts_env)
        headers = bearer(session["access_token"])
        issued = [(await client.post("/api/invites", headers=headers)) for _ in range(3)]
        assert [r.status_code for r in issued] == [201, 201, 403]
        with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE invites SET expires_at = now() - interval '1 minute' WHERE id = %s",
                (issued[0].json()["id"],),
            )
        assert (await client.post("/api/invites", headers=headers)).status_code == 201
        assert (await client.post("/api/invites", headers=headers)).status_code == 403
        await delete_expired(pool)
        assert present(pg, [issued[0].json()["id"]]) == set()
        assert (await client.post("/api/invites", headers=headers)).status_code == 403
        listed = (await client.get("/api/invites", headers=headers)).json()
        assert len(listed["invites"] if isinstance(listed, dict) else listed) == 2
