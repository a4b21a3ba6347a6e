"""Accounts end to end through the auth and users functions (real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from argon2 import extract_parameters
from psycopg import sql

from shared.accounts.passwords import FLOOR_MEMORY_KIB, FLOOR_TIME_COST, Passwords
from tests.accounts.conftest import PASSWORD, bearer, db_rows, email, signup
from tests.conftest import ROOT, Database


def count_users(pg: Database, address: str) -> int:
    return int(
        db_rows(pg, "SELECT count(*) FROM users WHERE lower(email) = lower(%s)", address)[0][0]
    )


# --- sign-up ------------------------------------------------------------------------


async def test_signup_returns_tokens_and_a_stargazer(
    client: httpx.AsyncClient, pg: Database
) -> None:
    address = email()
    body = await signup(client, address.upper().replace("@EXAMPLE", "@Example"))
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["user"]["role"] == "stargazer"
    assert body["user"]["email"] == address
    events = db_rows(
        pg,
        "SELECT data FROM outbox WHERE type = 'dev.protostar.user.signed_up' "
        "AND data->>'user_id' = %s",
        body["user"]["id"],
    )
    assert len(events) == 1


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, 400, "invalid_email"),
        ({"email": "a@b", "password": PASSWORD}, 400, "invalid_email"),
        ({"email": "", "password": PASSWORD}, 400, "invalid_email"),
        ({"email": "x" * 250 + "@example.com", "password": PASSWORD}, 400, "invalid_email"),
        ({"email": "{e}", "password": "short1!"}, 400, "weak_password"),
        ({"email": "{e}", "password": "password123"}, 400, "weak_password"),
        ({"email": "{e}", "password": "aaaaaaaaaaaaaaaa"}, 400, "weak_password"),
        ({"email": "{e}", "password": "onlylowercase"}, 400, "weak_password"),
        ({"email": "{e}", "password": "x1" * 65}, 400, "password_too_long"),
        ({"email": "{e}"}, 400, "weak_password"),
        ({"email": "{e}", "password": 12345678901}, 400, "weak_password"),
    ],
)
async def test_bad_signups_are_refused_and_store_nothing(
    client: httpx.AsyncClient, pg: Database, payload: dict[str, Any], status: int, code: str
) -> None:
    address = email()
    body = {k: (address if v == "{e}" else v) for k, v in payload.items()}
    response = await client.post("/api/auth/signup", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert count_users(pg, address) == 0


async def test_taken_email_is_409_case_insensitively(
    client: httpx.AsyncClient, pg: Database
) -> None:
    address = email()
    await signup(client, address)
    response = await client.post(
        "/api/auth/signup", json={"email": address.upper(), "password": PASSWORD + "x"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"
    assert count_users(pg, address) == 1


async def test_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/signup",
        content=b"email=a",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    response = await client.post(
        "/api/auth/signup", content=b"[1,2]", headers={"content-type": "application/json"}
    )
    assert response.json()["error"]["code"] == "invalid_json"


async def test_stored_hash_is_argon2id_at_or_above_the_floor(
    client: httpx.AsyncClient, pg: Database
) -> None:
    body = await signup(client)
    (stored,) = db_rows(pg, "SELECT password_hash FROM users WHERE id = %s", body["user"]["id"])
    params = extract_parameters(stored[0])
    assert stored[0].startswith("$argon2id$")
    assert params.memory_cost >= FLOOR_MEMORY_KIB
    assert params.time_cost >= FLOOR_TIME_COST
    assert params.parallelism >= 1
    assert PASSWORD not in stored[0]


async def test_login_rehashes_when_parameters_rise(client: httpx.AsyncClient, pg: Database) -> None:
    from shared.accounts import context

    address = email()
    body = await signup(client, address)
    stronger = Passwords(time_cost=3, memory_kib=FLOOR_MEMORY_KIB * 2, parallelism=1)
    original = context.passwords
    context.passwords = lambda: stronger  # type: ignore[assignment]
    try:
        response = await client.post(
            "/api/auth/login", json={"email": address, "password": PASSWORD}
        )
    finally:
        context.passwords = original
    assert response.status_code == 200
    (stored,) = db_rows(pg, "SELECT password_hash FROM users WHERE id = %s", body["user"]["id"])
    params = extract_parameters(stored[0])
    assert (params.time_cost, params.memory_cost) == (3, FLOOR_MEMORY_KIB * 2)


# --- sign-in ------------------------------------------------------------------------


async def test_login_and_wrong_credentials(client: httpx.AsyncClient, pg: Database) -> None:
    address = email()
    await signup(client, address)
    ok = await client.post("/api/auth/login", json={"email": address, "password": PASSWORD})
    assert ok.status_code == 200
    assert ok.json()["user"]["email"] == address
    wrong = await client.post("/api/auth/login", json={"email": address, "password": "nope-nope"})
    unknown = await client.post("/api/auth/login", json={"email": email(), "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == {
            "code": "invalid_credentials",
            "message": "email or password is wrong",
        }
    failed = db_rows(
        pg,
        "SELECT data->>'reason' FROM outbox WHERE type = "
        "'dev.protostar.auth.login_failed' ORDER BY seq DESC LIMIT 2",
    )
    assert {r[0] for r in failed} == {"wrong_password", "unknown_email"}


async def test_login_attempts_are_rate_limited(client: httpx.AsyncClient) -> None:
    address = email()
    await signup(client, address)
    codes = [
        (
            await client.post("/api/auth/login", json={"email": address, "password": "wrong-wrong"})
        ).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


# --- refresh rotation -----------------------------------------------------------------


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def test_rotation_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    first = await signup(client)
    second = await refresh(client, first["refresh_token"])
    assert second.status_code == 200
    successor = second.json()["refresh_token"]
    assert successor != first["refresh_token"]
    third = await refresh(client, successor)
    assert third.status_code == 200
    await asyncio.sleep(2.2)  # past the grace window (REFRESH_REUSE_GRACE=2)
    reuse = await refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "token_reused"
    newest = await refresh(client, third.json()["refresh_token"])
    assert newest.status_code == 401
    assert newest.json()["error"]["code"] == "token_revoked"


async def test_concurrent_refreshes_yield_one_successor(
    client: httpx.AsyncClient, pg: Database
) -> None:
    first = await signup(client)
    responses = await asyncio.gather(*(refresh(client, first["refresh_token"]) for _ in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    tokens = {r.json()["refresh_token"] for r in responses}
    assert len(tokens) == 1  # the same successor for every one of them
    rows = db_rows(
        pg, "SELECT count(*) FROM refresh_tokens WHERE user_id = %s", first["user"]["id"]
    )
    assert rows[0][0] == 2  # the original and exactly one successor
    assert (await refresh(client, tokens.pop())).status_code == 200


async def test_logout_revokes_the_family(client: httpx.AsyncClient) -> None:
    first = await signup(client)
    second = (await refresh(client, first["refresh_token"])).json()
    response = await client.post(
        "/api/auth/logout", json={"refresh_token": second["refresh_token"]}
    )
    assert response.status_code == 204
    again = await refresh(client, second["refresh_token"])
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_revoked"


# --- guests -----------------------------------------------------------------------------


async def test_guest_identity_is_signed_and_capped_per_ip(gateway: Any) -> None:
    # A fresh address: the per-IP hourly cap lives in the shared Redis across test runs.
    ip = f"198.18.{uuid.uuid4().int % 256}.{uuid.uuid4().int % 254 + 1}"
    transport = httpx.ASGITransport(app=gateway, client=(ip, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://protostar.test") as c:
        bad = await c.post("/api/auth/guest", json={"bot": "../etc"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_bot"
        issued = [await c.post("/api/auth/guest", json={"bot": "demo"}) for _ in range(6)]
    assert [r.status_code for r in issued] == [200] * 5 + [429]
    subjects = {r.json()["access_token"] for r in issued[:5]}
    assert len(subjects) == 5
    assert issued[0].json()["role"] == "guest"
    assert issued[5].headers["retry-after"] == "3600"


# --- password reset -------------------------------------------------------------------


async def test_password_reset_flow(client: httpx.AsyncClient, pg: Database) -> None:
    address = email()
    body = await signup(client, address)
    unknown = await client.post("/api/auth/password-reset", json={"email": email()})
    assert unknown.status_code == 202
    response = await client.post("/api/auth/password-reset", json={"email": address})
    assert response.status_code == 202
    assert response.json() == unknown.json()  # nothing tells whether the account exists
    (event,) = db_rows(
        pg,
        "SELECT data FROM outbox WHERE type = "
        "'dev.protostar.password_reset.requested' AND data->>'user_id' = %s",
        body["user"]["id"],
    )
    token = event[0]["reset_url"].split("#token=")[1]
    assert event[0]["reset_url"].startswith("http://protostar.test/reset#token=")
    stored = db_rows(
        pg, "SELECT token_hash FROM password_resets WHERE user_id = %s", body["user"]["id"]
    )
    assert token.encode() not in bytes(stored[0][0])

    weak = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "short"}
    )
    assert weak.json()["error"]["code"] == "weak_password"
    new_password = "a brand new 7 password"
    ok = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": new_password}
    )
    assert ok.status_code == 200
    # Signed in with a new session; every earlier one is gone (below).
    assert ok.json()["user"]["id"] == body["user"]["id"]
    assert (await client.get("/api/users/me", headers=bearer(ok.json()["access_token"]))).json()[
        "email"
    ] == address
    assert (await refresh(client, ok.json()["refresh_token"])).status_code == 200
    reused = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": new_password + "!"}
    )
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "reset_token_used"
    assert (await refresh(client, body["refresh_token"])).status_code == 401
    login = await client.post("/api/auth/login", json={"email": address, "password": new_password})
    assert login.status_code == 200


async def test_expired_and_unknown_reset_tokens(client: httpx.AsyncClient, pg: Database) -> None:
    address = email()
    body = await signup(client, address)
    await client.post("/api/auth/password-reset", json={"email": address})
    (event,) = db_rows(
        pg,
        "SELECT data FROM outbox WHERE type = "
        "'dev.protostar.password_reset.requested' AND data->>'user_id' = %s",
        body["user"]["id"],
    )
    token = event[0]["reset_url"].split("#token=")[1]
    db_rows(
        pg,
        "UPDATE password_resets SET expires_at = now() - interval '1 second' "
        "WHERE user_id = %s RETURNING id",
        body["user"]["id"],
    )
    expired = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "another good 8 one"}
    )
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "reset_token_expired"
    unknown = await client.post(
        "/api/auth/password-reset/confirm",
        json={"token": "x" * 43, "password": "another good 8 one"},
    )
    assert unknown.json()["error"]["code"] == "invalid_reset_token"


# --- invites and roles ------------------------------------------------------------------


def task_invite(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "shared.accounts.invite_cli"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


async def test_invite_redemption_makes_a_protostar(
    client: httpx.AsyncClient, accounts_env: dict[str, str], pg: Database
) -> None:
    code = await asyncio.to_thread(task_invite, accounts_env)
    assert code.startswith("PS-")
    user = await signup(client)
    response = await client.post(
        "/api/users/me/invite", json={"code": code.lower()}, headers=bearer(user["access_token"])
    )
    assert response.status_code == 200, response.text
    promoted = response.json()
    assert promoted["user"]["role"] == "protostar"
    me = await client.get("/api/users/me", headers=bearer(promoted["access_token"]))
    assert me.json()["role"] == "protostar"
    changed = db_rows(
        pg,
        "SELECT data FROM outbox WHERE type = "
        "'dev.protostar.user.role_changed' AND data->>'user_id' = %s",
        user["user"]["id"],
    )
    assert changed[0][0]["via"] == "invite"

    other = await signup(client)
    used = await client.post(
        "/api/users/me/invite", json={"code": code}, headers=bearer(other["access_token"])
    )
    assert used.status_code == 409
    assert used.json()["error"]["code"] == "invite_used"
    unknown = await client.post(
        "/api/users/me/invite",
        json={"code": "PS-AAAA-BBBB-CCCC"},
        headers=bearer(other["access_token"]),
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "invite_unknown"
    garbage = await client.post(
        "/api/users/me/invite",
        json={"code": "'; DROP TABLE x"},
        headers=bearer(other["access_token"]),
    )
    assert garbage.json()["error"]["code"] == "invite_unknown"
    expiring = await asyncio.to_thread(task_invite, accounts_env)
    db_rows(
        pg,
        "UPDATE invites SET expires_at = now() - interval '1 second' WHERE hint = %s RETURNING id",
        expiring[:7],
    )
    expired = await client.post(
        "/api/users/me/invite", json={"code": expiring}, headers=bearer(other["access_token"])
    )
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "invite_expired"
    assert db_rows(pg, "SELECT role FROM users WHERE id = %s", other["user"]["id"]) == [
        ("stargazer",)
    ]


async def test_protostars_issue_a_limited_number_of_invites(
    client: httpx.AsyncClient, accounts_env: dict[str, str]
) -> None:
    stargazer = await signup(client)
    refused = await client.post("/api/invites", headers=bearer(stargazer["access_token"]))
    assert refused.status_code == 403
    code = await asyncio.to_thread(task_invite, accounts_env)
    promoted = (
        await client.post(
            "/api/users/me/invite", json={"code": code}, headers=bearer(stargazer["access_token"])
        )
    ).json()
    token = promoted["access_token"]
    issued = [await client.post("/api/invites", headers=bearer(token)) for _ in range(3)]
    assert [r.status_code for r in issued] == [201, 201, 403]  # INVITES_PER_PROTOSTAR=2
    assert issued[2].json()["error"]["code"] == "invite_limit"
    listed = (await client.get("/api/invites", headers=bearer(token))).json()["invites"]
    assert {i["hint"] for i in listed} == {r.json()["code"][:7] for r in issued[:2]}
    assert all(i["status"] == "open" and "code" not in i for i in listed)


# --- profile, export, deletion -----------------------------------------------------------


async def test_profile_update(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    auth = bearer(user["access_token"])
    ok = await client.patch(
        "/api/users/me", json={"display_name": "  김  별  ", "locale": "ko"}, headers=auth
    )
    assert ok.status_code == 200
    assert ok.json()["display_name"] == "김 별"
    assert ok.json()["locale"] == "ko"
    for payload, code in [
        ({"role": "protostar"}, "invalid_field"),
        ({"is_admin": True}, "invalid_field"),
        ({"locale": "fr"}, "invalid_locale"),
        ({"display_name": "x" * 101}, "invalid_display_name"),
        ({"password": "a new 9 password ok"}, "current_password_required"),
        ({"password": "a new 9 password ok", "current_password": ""}, "current_password_required"),
    ]:
        response = await client.patch("/api/users/me", json=payload, headers=auth)
        assert response.status_code == 400, payload
        assert response.json()["error"]["code"] == code


NEW_PASSWORD = "a new 9 password ok"


async def change_password(
    client: httpx.AsyncClient, token: str, current: str, new: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.patch(
        "/api/users/me",
        headers=bearer(token),
        json={"password": new, "current_password": current},
    )


async def delete_account(client: httpx.AsyncClient, token: str, body: object) -> httpx.Response:
    return await client.request("DELETE", "/api/users/me", headers=bearer(token), json=body)


async def test_password_change_signs_out_everywhere_but_here(
    client: httpx.AsyncClient, pg: Database
) -> None:
    address = email()
    user = await signup(client, address)
    other = (
        await client.post("/api/auth/login", json={"email": address, "password": PASSWORD})
    ).json()
    changed = await change_password(client, user["access_token"], PASSWORD)
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    assert fresh["user"]["id"] == user["user"]["id"]
    assert fresh["refresh_token"] not in (user["refresh_token"], other["refresh_token"])
    # Every earlier session is refused (this device's and the other one's)...
    for stale in (user["refresh_token"], other["refresh_token"]):
        refused = await refresh(client, stale)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "token_revoked"
    # ... the fresh one works, and so does the new password (and not the old one).
    assert (await refresh(client, fresh["refresh_token"])).status_code == 200
    me = await client.get("/api/users/me", headers=bearer(fresh["access_token"]))
    assert me.json()["email"] == address
    old = await client.post("/api/auth/login", json={"email": address, "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post("/api/auth/login", json={"email": address, "password": NEW_PASSWORD})
    assert new.status_code == 200
    reasons = db_rows(
        pg,
        "SELECT revoke_reason, count(*) FROM refresh_tokens WHERE user_id = %s "
        "GROUP BY revoke_reason",
        user["user"]["id"],
    )
    assert dict(reasons)["password_change"] == 2


async def test_wrong_current_password_changes_and_deletes_nothing(
    client: httpx.AsyncClient, pg: Database
) -> None:
    address = email()
    user = await signup(client, address)
    token = user["access_token"]
    changed = await client.patch(
        "/api/users/me",
        headers=bearer(token),
        json={"display_name": "Changed", "password": NEW_PASSWORD, "current_password": "nope!"},
    )
    assert changed.status_code == 403
    assert changed.json()["error"]["code"] == "wrong_password"
    deleted = await delete_account(client, token, {"current_password": "nope!"})
    assert deleted.status_code == 403
    assert deleted.json()["error"]["code"] == "wrong_password"
    for body in ({}, {"current_password": ""}, {"current_password": 5}):
        missing = await delete_account(client, token, body)
        assert missing.status_code == 400, body
        assert missing.json()["error"]["code"] == "current_password_required"
        assert missing.json()["error"]["field"] == "current_password"
    bare = await client.delete("/api/users/me", headers=bearer(token))  # no body at all
    assert bare.status_code == 400
    assert bare.json()["error"]["code"] == "current_password_required"
    # Nothing changed: same name, same password, the session still works.
    assert count_users(pg, address) == 1
    me = (await client.get("/api/users/me", headers=bearer(token))).json()
    assert me["display_name"] is None
    assert (await refresh(client, user["refresh_token"])).status_code == 200
    login = await client.post("/api/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status_code == 200


async def test_wrong_current_passwords_are_limited_per_user(
    client: httpx.AsyncClient, pg: Database
) -> None:
    address = email()
    user = await signup(client, address)
    token = user["access_token"]
    # Five wrong guesses, whether to change the password or to delete the account...
    wrong = [
        await change_password(client, token, f"guess {i}")
        if i % 2
        else await delete_account(client, token, {"current_password": f"guess {i}"})
        for i in range(5)
    ]
    assert [r.status_code for r in wrong] == [403] * 5
    # ... then even the right password is refused, before it is tried.
    for attempt in (
        await change_password(client, token, PASSWORD),
        await delete_account(client, token, {"current_password": PASSWORD}),
    ):
        assert attempt.status_code == 429
        assert attempt.json()["error"]["code"] == "too_many_password_attempts"
        assert 0 < int(attempt.headers["retry-after"]) <= 900
    assert count_users(pg, address) == 1
    # Another user is not held up by it.
    other = await signup(client)
    assert (await change_password(client, other["access_token"], "guess")).status_code == 403
    assert (await change_password(client, other["access_token"], PASSWORD)).status_code == 200


async def test_sign_out_everywhere_refuses_every_refresh_token(client: httpx.AsyncClient) -> None:
    address = email()
    user = await signup(client, address)
    rotated = (await refresh(client, user["refresh_token"])).json()
    other = (
        await client.post("/api/auth/login", json={"email": address, "password": PASSWORD})
    ).json()
    unauthenticated = await client.post("/api/users/me/sessions/revoke")
    assert unauthenticated.status_code == 401
    response = await client.post(
        "/api/users/me/sessions/revoke", headers=bearer(rotated["access_token"])
    )
    assert response.status_code == 204
    for token in (rotated["refresh_token"], other["refresh_token"]):
        refused = await refresh(client, token)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "token_revoked"
    # The account itself is untouched: signing in again works.
    again = await client.post("/api/auth/login", json={"email": address, "password": PASSWORD})
    assert again.status_code == 200
    assert (await refresh(client, again.json()["refresh_token"])).status_code == 200


async def test_hangul_password_in_nfd_still_signs_in(client: httpx.AsyncClient) -> None:
    import unicodedata

    address = email()
    password = "비밀번호는 길게 9"
    await signup(client, address, password=unicodedata.normalize("NFC", password))
    response = await client.post(
        "/api/auth/login",
        json={"email": address, "password": unicodedata.normalize("NFD", password)},
    )
    assert response.status_code == 200


async def test_export_contains_the_users_data_and_no_secrets(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    response = await client.get("/api/users/me/export", headers=bearer(user["access_token"]))
    assert response.status_code == 200
    data = response.json()
    assert data["user"]["id"] == user["user"]["id"]
    assert len(data["sessions"]) == 1
    text = json.dumps(data)
    assert "argon2" not in text
    assert "token_hash" not in text
    assert user["refresh_token"] not in text


async def test_deleting_an_account_leaves_nothing(
    client: httpx.AsyncClient, pg: Database, accounts_env: dict[str, str]
) -> None:
    user = await signup(client)
    user_id = user["user"]["id"]
    await client.post("/api/auth/password-reset", json={"email": user["user"]["email"]})
    objects = Path(accounts_env["PROTOSTAR_DATA"]) / "objects" / "users" / user_id
    objects.mkdir(parents=True)
    (objects / "avatar.png").write_bytes(b"png")
    response = await delete_account(client, user["access_token"], {"current_password": PASSWORD})
    assert response.status_code == 204
    assert not objects.exists()
    # No row in any table mentions the user any more (outbox events aside: the
    # deletion event itself carries the id, as the audit trail needs).
    tables = db_rows(
        pg,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('uuid', 'text') "
        "AND table_name NOT IN ('outbox', 'schema_migrations')",
    )
    with psycopg.connect(pg.superuser_url) as conn:
        for table, column in tables:
            query = sql.SQL("SELECT count(*) FROM {} WHERE {}::text = %s").format(
                sql.Identifier(table), sql.Identifier(column)
            )
            hits = conn.execute(query, (user_id,)).fetchone()
            assert hits == (0,), (table, column)
    assert (await refresh(client, user["refresh_token"])).status_code == 401
    gone = await client.get("/api/users/me", headers=bearer(user["access_token"]))
    assert gone.status_code == 404
    deleted = db_rows(
        pg,
        "SELECT count(*) FROM outbox WHERE type = 'dev.protostar.user.deleted'"
        " AND data->>'user_id' = %s",
        user_id,
    )
    assert deleted[0][0] == 1
