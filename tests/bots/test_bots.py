"""Bots end to end through the bots function (real PostgreSQL, real row-level security)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors, sql

from tests.accounts.conftest import PASSWORD, bearer, db_rows, signup
from tests.bots.conftest import become_protostar, new_slug
from tests.conftest import Database

WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/secret-token_ABC"
PUBLIC_KEYS = {"slug", "name", "greeting", "suggested_questions", "language"}


def full_bot(slug: str) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": "  Jane's   career bot ",
        "persona": "Answer as Jane's assistant. Be concise.",
        "greeting": "안녕하세요! Ask me about Jane's work.",
        "suggested_questions": ["Has she run Kubernetes in production?", "왜 RabbitMQ를 골랐나요?"],
        "language": "ko",
        "allowed_origins": ["https://Blog.Example.com/", "http://localhost:4000"],
        "discoverable": True,
        "discord_webhook": WEBHOOK,
    }


async def create(
    client: httpx.AsyncClient, session: dict[str, Any], body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/api/bots", json=body, headers=bearer(session["access_token"]))


async def created(
    client: httpx.AsyncClient, session: dict[str, Any], slug: str | None = None
) -> dict[str, Any]:
    response = await create(client, session, full_bot(slug or new_slug()))
    assert response.status_code == 201, response.text
    bot: dict[str, Any] = response.json()
    return bot


def bot_row(pg: Database, slug: str) -> tuple[Any, ...] | None:
    rows = db_rows(pg, "SELECT * FROM bots WHERE slug = %s", slug)
    return rows[0] if rows else None


def bots_of(pg: Database, user_id: str) -> int:
    return int(db_rows(pg, "SELECT count(*) FROM bots WHERE owner_id = %s", user_id)[0][0])


async def as_user(
    conn: psycopg.AsyncConnection[Any],
    user_id: str,
    statement: sql.SQL | sql.Composed,
    params: tuple[object, ...],
) -> None:
    """Run one statement as the app does: in a transaction scoped to ``user_id``."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.user_id', %s, true)", (user_id,))
        await conn.execute(statement, params)


# --- the owner's path -------------------------------------------------------------------


async def test_protostar_creates_reads_lists_and_updates_a_bot(
    client: httpx.AsyncClient, owner: dict[str, Any], pg: Database
) -> None:
    slug = new_slug("jane")
    auth = bearer(owner["access_token"])
    response = await create(client, owner, full_bot(slug))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/bots/{slug}"
    assert response.headers["cache-control"] == "no-store"
    bot = response.json()
    assert set(bot) == {
        "id",
        "slug",
        "name",
        "persona",
        "greeting",
        "suggested_questions",
        "language",
        "allowed_origins",
        "discoverable",
        "discord_webhook",
        "discord_webhook_disabled_at",
        "discord_webhook_disabled_reason",
        "created_at",
        "updated_at",
    }
    assert bot["slug"] == slug
    assert bot["name"] == "Jane's career bot"
    assert bot["allowed_origins"] == ["https://blog.example.com", "http://localhost:4000"]
    assert bot["suggested_questions"] == full_bot(slug)["suggested_questions"]
    assert (bot["language"], bot["discoverable"], bot["discord_webhook"]) == ("ko", True, WEBHOOK)
    stored = db_rows(pg, "SELECT owner_id::text, allowed_origins FROM bots WHERE slug = %s", slug)
    assert stored == [(owner["user"]["id"], ["https://blog.example.com", "http://localhost:4000"])]

    read = await client.get(f"/api/bots/{slug}", headers=auth)
    assert read.status_code == 200
    assert read.json() == bot

    listed = await client.get("/api/bots", headers=auth)
    assert listed.status_code == 200
    assert bot in listed.json()["bots"]

    patch = {
        "name": "Jane (EN)",
        "language": "en",
        "suggested_questions": [],
        "allowed_origins": ["https://jane.dev"],
        "discoverable": False,
        "discord_webhook": None,
        "slug": slug,  # sending the same slug back is harmless
    }
    changed = await client.patch(f"/api/bots/{slug}", json=patch, headers=auth)
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["name"] == "Jane (EN)"
    assert after["language"] == "en"
    assert after["suggested_questions"] == []
    assert after["allowed_origins"] == ["https://jane.dev"]
    assert after["discoverable"] is False
    assert after["discord_webhook"] is None
    assert after["persona"] == bot["persona"]  # untouched fields stay
    assert after["updated_at"] > bot["updated_at"]
    assert after["created_at"] == bot["created_at"]
    assert (await client.get(f"/api/bots/{slug}", headers=auth)).json() == after
    assert db_rows(pg, "SELECT name, discord_webhook FROM bots WHERE slug = %s", slug) == [
        ("Jane (EN)", None)
    ]

    empty = await client.patch(f"/api/bots/{slug}", json={}, headers=auth)
    assert empty.status_code == 200
    assert empty.json() == after


async def test_a_minimal_bot_gets_the_defaults(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    slug = new_slug()
    response = await create(client, owner, {"slug": slug, "name": "Min"})
    assert response.status_code == 201, response.text
    bot = response.json()
    assert {k: bot[k] for k in bot if k not in ("id", "created_at", "updated_at")} == {
        "slug": slug,
        "name": "Min",
        "persona": "",
        "greeting": "",
        "suggested_questions": [],
        "language": "auto",
        "allowed_origins": [],
        "discoverable": False,
        "discord_webhook": None,
        "discord_webhook_disabled_at": None,
        "discord_webhook_disabled_reason": None,
    }


# --- who may --------------------------------------------------------------------------


async def test_a_stargazer_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, pg: Database
) -> None:
    user = await signup(client)
    auth = bearer(user["access_token"])
    slug = new_slug()
    response = await client.post("/api/bots", json=full_bot(slug), headers=auth)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_protostar"
    for call in (
        client.get("/api/bots", headers=auth),
        client.get(f"/api/bots/{slug}", headers=auth),
        client.patch(f"/api/bots/{slug}", json={"name": "x"}, headers=auth),
    ):
        refused = await call
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "not_protostar"
    assert bot_row(pg, slug) is None
    assert bots_of(pg, user["user"]["id"]) == 0


async def test_no_token_and_guest_tokens_are_401(
    client: httpx.AsyncClient, owner: dict[str, Any], pg: Database
) -> None:
    bot = await created(client, owner)
    guest = await client.post("/api/auth/guest", json={"bot": bot["slug"]})
    assert guest.status_code == 200, guest.text
    slug = new_slug()
    for headers in ({}, bearer(guest.json()["access_token"]), bearer("not-a-token")):
        for response in (
            await client.post("/api/bots", json=full_bot(slug), headers=headers),
            await client.get("/api/bots", headers=headers),
            await client.get(f"/api/bots/{bot['slug']}", headers=headers),
            await client.patch(
                f"/api/bots/{bot['slug']}", json={"name": "guest was here"}, headers=headers
            ),
        ):
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["error"]["code"]
    assert bot_row(pg, slug) is None
    assert db_rows(pg, "SELECT name FROM bots WHERE slug = %s", bot["slug"]) == [
        ("Jane's career bot",)
    ]


async def test_a_bad_token_is_401_before_the_body_is_read(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    """Who calls comes first: with a forged or a guest token, an invalid body (or query)
    is never read, so the answer is 401, not the body's 400."""
    bot = await created(client, owner)
    guest = await client.post("/api/auth/guest", json={"bot": bot["slug"]})
    for headers in (bearer("not-a-jwt"), bearer(guest.json()["access_token"])):
        for response in (
            await client.post("/api/bots", json={}, headers=headers),
            await client.patch(f"/api/bots/{bot['slug']}", json={"x": 1}, headers=headers),
            await client.patch("/api/users/me", json={"email": "x"}, headers=headers),
            await client.post(
                "/api/bots",
                content=b"[" * 5000,
                headers={**headers, "Content-Type": "application/json"},
            ),
        ):
            assert response.status_code == 401, response.text


async def test_deep_nesting_and_lone_surrogates_are_400_not_500(
    client: httpx.AsyncClient, owner: dict[str, Any], pg: Database
) -> None:
    auth = {**bearer(owner["access_token"]), "Content-Type": "application/json"}
    deep = b"[" * 30000 + b"]" * 30000
    response = await client.post("/api/bots", content=deep, headers=auth)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"
    slug = new_slug()
    lone = b'{"slug": "%s", "name": "\\udcff"}' % slug.encode()
    response = await client.post("/api/bots", content=lone, headers=auth)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_text"  # as the question's check says
    assert bot_row(pg, slug) is None
    # A surrogate pair is an ordinary character (an emoji): accepted.
    pair = b'{"slug": "%s", "name": "Jane \\ud83d\\ude80"}' % slug.encode()
    response = await client.post("/api/bots", content=pair, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Jane \U0001f680"


async def test_a_stargazer_who_redeems_an_invite_may_create(
    client: httpx.AsyncClient, accounts_env: dict[str, str]
) -> None:
    session = await become_protostar(client, accounts_env)
    response = await create(client, session, {"slug": new_slug(), "name": "New owner"})
    assert response.status_code == 201, response.text


# --- bad input ------------------------------------------------------------------------

BAD_CREATES: list[tuple[str, dict[str, Any], str]] = [
    ("short slug", {"slug": "ab"}, "invalid_slug"),
    ("long slug", {"slug": "x" * 41}, "invalid_slug"),
    ("upper-case slug", {"slug": "Jane-Doe"}, "invalid_slug"),
    ("slug with underscore", {"slug": "jane_doe"}, "invalid_slug"),
    ("slug with leading hyphen", {"slug": "-jane"}, "invalid_slug"),
    ("slug with double hyphen", {"slug": "jane--doe"}, "invalid_slug"),
    ("slug with a slash", {"slug": "jane/doe"}, "invalid_slug"),
    ("Korean slug", {"slug": "제인-봇"}, "invalid_slug"),
    ("slug not a string", {"slug": 12345}, "invalid_slug"),
    ("no slug", {"slug": None}, "invalid_slug"),
    ("reserved api", {"slug": "api"}, "reserved_slug"),
    ("reserved admin", {"slug": "admin"}, "reserved_slug"),
    ("reserved www", {"slug": "www"}, "reserved_slug"),
    ("reserved dashboard", {"slug": "dashboard"}, "reserved_slug"),
    ("no name", {"name": None}, "invalid_name"),
    ("blank name", {"name": "   "}, "invalid_name"),
    ("long name", {"name": "n" * 81}, "invalid_name"),
    ("long persona", {"persona": "p" * 2001}, "invalid_persona"),
    ("long greeting", {"greeting": "g" * 501}, "invalid_greeting"),
    (
        "too many questions",
        {"suggested_questions": [f"Question {i}?" for i in range(7)]},
        "invalid_suggested_questions",
    ),
    ("long question", {"suggested_questions": ["q" * 201]}, "invalid_suggested_questions"),
    ("question not text", {"suggested_questions": [{"q": 1}]}, "invalid_suggested_questions"),
    ("questions not a list", {"suggested_questions": "why?"}, "invalid_suggested_questions"),
    ("bad language", {"language": "ja"}, "invalid_language"),
    ("origin with path", {"allowed_origins": ["https://blog.example.com/posts"]}, "invalid_origin"),
    ("null origin", {"allowed_origins": ["null"]}, "invalid_origin"),
    ("null name", {"name": None}, "invalid_name"),
    ("null language", {"language": None}, "invalid_language"),
    ("null discoverable", {"discoverable": None}, "invalid_discoverable"),
    ("wildcard origin", {"allowed_origins": ["*"]}, "invalid_origin"),
    ("wildcard subdomain", {"allowed_origins": ["https://*.example.com"]}, "invalid_origin"),
    ("javascript: origin", {"allowed_origins": ["javascript:alert(1)"]}, "invalid_origin"),
    ("origin with query", {"allowed_origins": ["https://a.example.com?x=1"]}, "invalid_origin"),
    ("origin with fragment", {"allowed_origins": ["https://a.example.com#x"]}, "invalid_origin"),
    ("ftp origin", {"allowed_origins": ["ftp://a.example.com"]}, "invalid_origin"),
    ("origin with user", {"allowed_origins": ["https://u@a.example.com"]}, "invalid_origin"),
    (
        "too many origins",
        {"allowed_origins": [f"https://o{i}.example.com" for i in range(21)]},
        "invalid_allowed_origins",
    ),
    ("origins not a list", {"allowed_origins": "https://a.example.com"}, "invalid_allowed_origins"),
    (
        "webhook elsewhere",
        {"discord_webhook": "https://evil.example/api/webhooks/1/t"},
        "invalid_discord_webhook",
    ),
    (
        "webhook over http",
        {"discord_webhook": "http://discord.com/api/webhooks/1/t"},
        "invalid_discord_webhook",
    ),
    (
        "webhook look-alike host",
        {"discord_webhook": "https://discord.com.evil.example/api/webhooks/1/t"},
        "invalid_discord_webhook",
    ),
    (
        "webhook with query",
        {"discord_webhook": "https://discord.com/api/webhooks/1/t?wait=true"},
        "invalid_discord_webhook",
    ),
    ("discoverable not a boolean", {"discoverable": "yes"}, "invalid_discoverable"),
    (
        "owner_id is not writable",
        {"owner_id": "00000000-0000-0000-0000-000000000000"},
        "invalid_field",
    ),
    ("unknown field", {"colour": "blue"}, "invalid_field"),
]


@pytest.mark.parametrize(
    ("change", "code"),
    [(c, code) for _, c, code in BAD_CREATES],
    ids=[n for n, _, _ in BAD_CREATES],
)
async def test_bad_bots_are_400_and_nothing_is_stored(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    change: dict[str, Any],
    code: str,
) -> None:
    before = bots_of(pg, owner["user"]["id"])
    body = {**full_bot(new_slug()), **change}
    response = await create(client, owner, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert bots_of(pg, owner["user"]["id"]) == before
    if isinstance(body["slug"], str):
        assert bot_row(pg, body["slug"]) is None


async def test_a_body_that_is_not_a_json_object_is_400(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    auth = bearer(owner["access_token"])
    for content in (b"{not json", b"[1, 2]", b'"bot"'):
        response = await client.post(
            "/api/bots", content=content, headers={**auth, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_json"


BAD_PATCHES: list[tuple[str, dict[str, Any], str]] = [
    ("rename", {"slug": "another-name"}, "immutable_field"),
    ("blank name", {"name": ""}, "invalid_name"),
    ("origin with path", {"allowed_origins": ["https://blog.example.com/x"]}, "invalid_origin"),
    ("null origin", {"allowed_origins": ["null"]}, "invalid_origin"),
    ("null name", {"name": None}, "invalid_name"),
    ("null discoverable", {"discoverable": None}, "invalid_discoverable"),
    ("wildcard origin", {"allowed_origins": ["https://*.example.com"]}, "invalid_origin"),
    ("javascript: origin", {"allowed_origins": ["javascript:alert(1)"]}, "invalid_origin"),
    (
        "too many questions",
        {"suggested_questions": [f"Q{i}?" for i in range(7)]},
        "invalid_suggested_questions",
    ),
    ("bad webhook", {"discord_webhook": "https://example.com/hook"}, "invalid_discord_webhook"),
    ("read-only id", {"id": "00000000-0000-0000-0000-000000000000"}, "invalid_field"),
    # One good field beside a bad one: the whole change is refused.
    ("partly good", {"name": "Fine", "language": "fr"}, "invalid_language"),
]


async def test_bad_changes_are_400_and_the_bot_is_unchanged(
    client: httpx.AsyncClient, owner: dict[str, Any], pg: Database
) -> None:
    bot = await created(client, owner)
    before = bot_row(pg, bot["slug"])
    for name, change, code in BAD_PATCHES:
        response = await client.patch(
            f"/api/bots/{bot['slug']}", json=change, headers=bearer(owner["access_token"])
        )
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == code, name
        if name in ("null name", "null discoverable"):  # the refusal names its field
            assert response.json()["error"]["field"] == name.split()[1]
        assert bot_row(pg, bot["slug"]) == before, name
    assert bot_row(pg, "another-name") is None


async def test_a_taken_slug_is_409(
    client: httpx.AsyncClient, owner: dict[str, Any], other: dict[str, Any], pg: Database
) -> None:
    bot = await created(client, owner)
    before = bot_row(pg, bot["slug"])
    others_before = bots_of(pg, other["user"]["id"])
    for session in (other, owner):
        response = await create(client, session, {"slug": bot["slug"], "name": "Mine now"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "slug_taken"
    assert bot_row(pg, bot["slug"]) == before
    assert bots_of(pg, other["user"]["id"]) == others_before


# --- isolation ------------------------------------------------------------------------


async def test_another_owners_bot_is_404_like_a_missing_one(
    client: httpx.AsyncClient, owner: dict[str, Any], other: dict[str, Any], pg: Database
) -> None:
    bot = await created(client, owner)
    before = bot_row(pg, bot["slug"])
    theirs = bearer(other["access_token"])
    missing = new_slug("missing")
    for path in (bot["slug"], missing):
        read = await client.get(f"/api/bots/{path}", headers=theirs)
        assert read.status_code == 404
        assert read.json()["error"]["code"] == "bot_not_found"
        patched = await client.patch(
            f"/api/bots/{path}",
            json={"name": "Taken over", "discord_webhook": None},
            headers=theirs,
        )
        assert patched.status_code == 404
        assert patched.json()["error"]["code"] == "bot_not_found"
    assert bot_row(pg, bot["slug"]) == before
    listed = await client.get("/api/bots", headers=theirs)
    assert bot["slug"] not in {b["slug"] for b in listed.json()["bots"]}
    mine = await client.get("/api/bots", headers=bearer(owner["access_token"]))
    assert bot["slug"] in {b["slug"] for b in mine.json()["bots"]}


async def test_row_level_security_holds_for_raw_sql_as_the_app_role(
    client: httpx.AsyncClient, owner: dict[str, Any], other: dict[str, Any], pg: Database
) -> None:
    mine = await created(client, owner)
    theirs = await created(client, other)
    owner_id, other_id = owner["user"]["id"], other["user"]["id"]
    assert int(db_rows(pg, "SELECT count(*) FROM bots")[0][0]) >= 2  # as superuser
    assert db_rows(
        pg,
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'bots'::regclass",
    ) == [(True, True)]

    async with await psycopg.AsyncConnection.connect(pg.app_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert await cur.fetchone() == (False, False)

        # No app.user_id: nothing at all.
        cur = await conn.execute("SELECT * FROM bots")
        assert await cur.fetchall() == []

        # As the other owner: only their own rows, never the first owner's.
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', %s, true)", (other_id,))
            cur = await conn.execute("SELECT owner_id::text, slug FROM bots")
            rows = await cur.fetchall()
            assert (other_id, theirs["slug"]) in rows
            assert {owner for owner, _ in rows} == {other_id}
            cur = await conn.execute("SELECT * FROM bots WHERE slug = %s", (mine["slug"],))
            assert await cur.fetchall() == []
            cur = await conn.execute(
                "UPDATE bots SET name = 'pwned' WHERE slug = %s", (mine["slug"],)
            )
            assert cur.rowcount == 0
            cur = await conn.execute("DELETE FROM bots WHERE owner_id = %s", (owner_id,))
            assert cur.rowcount == 0

        # Writing a row for someone else, or handing one's own row over, is refused.
        for statement, params in (
            (
                "INSERT INTO bots (owner_id, slug, name) VALUES (%s, %s, 'planted')",
                (owner_id, new_slug("planted")),
            ),
            ("UPDATE bots SET owner_id = %s WHERE slug = %s", (owner_id, theirs["slug"])),
        ):
            with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
                await as_user(conn, other_id, sql.SQL(statement), params)

        # The setting is transaction-local: once the transaction ends, nothing is visible.
        cur = await conn.execute("SELECT count(*) FROM bots")
        assert await cur.fetchone() == (0,)
        # The public-lookup switch is the owner role's alone.
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.public_lookup', 'on', true)")
            cur = await conn.execute("SELECT count(*) FROM bots")
            assert await cur.fetchone() == (0,)
        # Not the owner: cannot switch RLS off or drop a policy.
        for ddl in (
            "ALTER TABLE bots DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE bots NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY bots_owner ON bots",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                await conn.execute(ddl.encode())

        # The public path returns the public columns of one bot, and only those.
        cur = await conn.execute("SELECT * FROM bot_public(%s)", (mine["slug"],))
        assert cur.description is not None
        assert {c.name for c in cur.description} == PUBLIC_KEYS
        assert len(await cur.fetchall()) == 1

    # FORCE: the owner role too sees nothing without a user.
    async with await psycopg.AsyncConnection.connect(pg.owner_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT count(*) FROM bots")
        assert await cur.fetchone() == (0,)


async def test_the_database_refuses_rows_that_break_the_rules(
    owner: dict[str, Any], pg: Database
) -> None:
    owner_id = owner["user"]["id"]
    bad = [
        ("slug", "API!"),
        ("slug", "ab"),
        ("language", "fr"),
        ("persona", "p" * 2001),
        ("suggested_questions", json.dumps([f"q{i}" for i in range(7)])),
        ("suggested_questions", json.dumps([1, 2])),
        ("allowed_origins", json.dumps({"not": "a list"})),
        ("discord_webhook", "https://evil.example/api/webhooks/1/t"),
    ]
    async with await psycopg.AsyncConnection.connect(pg.app_url, autocommit=True) as conn:
        for column, value in bad:
            values = {"slug": new_slug(), "name": "n", column: value}
            insert = sql.SQL("INSERT INTO bots (owner_id, {}) VALUES (%s, {})").format(
                sql.SQL(", ").join(map(sql.Identifier, values)),
                sql.SQL(", ").join(sql.Placeholder() * len(values)),
            )
            with pytest.raises(errors.CheckViolation):
                await as_user(conn, owner_id, insert, (owner_id, *values.values()))


# --- the public view ------------------------------------------------------------------


async def test_the_public_view_holds_only_public_fields(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    bot = await created(client, owner)
    response = await client.get(f"/api/bots/{bot['slug']}/public")  # no token
    assert response.status_code == 200, response.text
    public = response.json()
    assert set(public) == PUBLIC_KEYS
    assert public == {
        "slug": bot["slug"],
        "name": bot["name"],
        "greeting": bot["greeting"],
        "suggested_questions": bot["suggested_questions"],
        "language": bot["language"],
    }
    text = response.text
    for private in (
        WEBHOOK,
        "secret-token_ABC",
        "blog.example.com",
        "localhost:4000",
        owner["user"]["id"],
        owner["user"]["email"],
        bot["id"],
        bot["persona"],
    ):
        assert private not in text
    assert response.headers["cache-control"].startswith("public")


async def test_the_public_view_of_an_unknown_bot_is_404(client: httpx.AsyncClient) -> None:
    for slug in (new_slug("nobody"), "api", "Not-A-Slug", "a" * 200, "%2e%2e"):
        response = await client.get(f"/api/bots/{slug}/public")
        assert response.status_code == 404, slug
        assert response.json()["error"]["code"] in {"bot_not_found", "not_found"}


async def test_deleting_the_owner_deletes_their_bots(
    client: httpx.AsyncClient, accounts_env: dict[str, str], pg: Database
) -> None:
    session = await become_protostar(client, accounts_env)
    bot = await created(client, session)
    gone = await client.request(
        "DELETE",
        "/api/users/me",
        headers=bearer(session["access_token"]),
        json={"current_password": PASSWORD},
    )
    assert gone.status_code == 204, gone.text
    assert bot_row(pg, bot["slug"]) is None
    assert (await client.get(f"/api/bots/{bot['slug']}/public")).status_code == 404


async def test_account_export_includes_the_owners_bots(
    client: httpx.AsyncClient, accounts_env: dict[str, str]
) -> None:
    owner = await become_protostar(client, accounts_env)
    created = await client.post(
        "/api/bots",
        headers=bearer(owner["access_token"]),
        json={"slug": new_slug("exp"), "name": "내 봇"},
    )
    assert created.status_code == 201, created.text
    data = (await client.get("/api/users/me/export", headers=bearer(owner["access_token"]))).json()
    assert [b["slug"] for b in data["bots"]] == [created.json()["slug"]]
    assert data["bots"][0]["name"] == "내 봇"
