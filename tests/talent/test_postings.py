"""The postings of chunks' terms (chunk_terms, migration 0012): kept by the database
with the chunks, readable as the chunks are, and filled for chunks stored before."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg

from shared.db.migrate import MIGRATIONS_DIR, migrate
from shared.db.unit import scope
from tests.chat.conftest import ingest, new_client, new_owner
from tests.conftest import Database
from tests.support.gateway import Gateway

_EXPECTED = """
SELECT t.term, c.id, count(*)::int FROM chunks AS c CROSS JOIN LATERAL unnest(c.terms) AS t(term)
WHERE c.bot_id = %s GROUP BY t.term, c.id ORDER BY 1, 2
"""
_POSTED = "SELECT term, chunk_id, tf FROM chunk_terms WHERE bot_id = %s ORDER BY 1, 2"


def _postings(url: str, bot_id: str) -> tuple[list[Any], list[Any]]:
    with psycopg.connect(url) as conn:
        return conn.execute(_EXPECTED, (bot_id,)).fetchall(), conn.execute(
            _POSTED, (bot_id,)
        ).fetchall()


async def test_postings_follow_a_documents_chunks(
    gateway: Gateway, chat_env: dict[str, str], pg: Database
) -> None:
    owner = await new_owner(gateway, chat_env, name="Posting Person")
    [doc] = await ingest(owner, {"cv.txt": b"Kotlin developer. Kotlin, Ktor and Kafka; Kotlin."})
    expected, posted = _postings(pg.superuser_url, owner["bot_id"])
    assert expected
    assert posted == expected
    assert ("kotlin", expected[0][1], 3) in posted  # counted, once per chunk
    # The document's deletion takes its chunks, and their postings with them.
    async with new_client(gateway) as client:
        gone = await client.delete(
            f"/api/bots/{owner['bot']}/documents/{doc}", headers=owner["headers"]
        )
        assert gone.status_code in (200, 204), gone.text
    assert _postings(pg.superuser_url, owner["bot_id"]) == ([], [])


async def test_an_update_of_a_chunks_terms_moves_its_postings(
    gateway: Gateway, chat_env: dict[str, str], pg: Database
) -> None:
    owner = await new_owner(gateway, chat_env, name="Posting Person")
    await ingest(owner, {"cv.txt": b"Erlang and Elixir engineer."})
    with psycopg.connect(pg.superuser_url) as conn:
        conn.execute(
            "UPDATE chunks SET terms = ARRAY['cobol', 'cobol', 'fortran'] WHERE bot_id = %s",
            (owner["bot_id"],),
        )
    expected, posted = _postings(pg.superuser_url, owner["bot_id"])
    assert posted == expected
    assert {(term, tf) for term, _, tf in posted} == {("cobol", 2), ("fortran", 1)}


async def test_postings_are_read_as_the_chunks_are(
    gateway: Gateway, chat_env: dict[str, str], pg: Database
) -> None:
    """The owner reads their own; a talent search those of discoverable bots only;
    anyone else nothing."""
    hidden = await new_owner(gateway, chat_env, name="Hidden", discoverable=False)
    shown = await new_owner(gateway, chat_env, name="Shown", discoverable=True)
    await ingest(hidden, {"cv.txt": b"Quuxlang wizard."})
    await ingest(shown, {"cv.txt": b"Quuxlang apprentice."})
    query = "SELECT DISTINCT bot_id::text FROM chunk_terms WHERE term = 'quuxlang'"
    async with await psycopg.AsyncConnection.connect(pg.app_url) as conn:
        async with conn.transaction():
            await scope(conn, talent=True)
            seen = {r[0] for r in await (await conn.execute(query)).fetchall()}
        assert seen == {shown["bot_id"]}
        async with conn.transaction():
            await scope(conn, user=hidden["user_id"])
            seen = {r[0] for r in await (await conn.execute(query)).fetchall()}
        assert seen == {hidden["bot_id"]}
        async with conn.transaction():
            seen = {r[0] for r in await (await conn.execute(query)).fetchall()}
        assert seen == set()
        async with conn.transaction():
            await scope(conn, talent=True)
            refused = None
            try:
                await conn.execute(
                    "INSERT INTO chunk_terms (term, chunk_id, bot_id, tf) "
                    "SELECT 'forged', chunk_id, bot_id, 1 FROM chunk_terms LIMIT 1"
                )
            except psycopg.errors.InsufficientPrivilege as exc:
                refused = exc
        assert refused is not None  # a talent search reads, never writes


def test_the_migration_posts_the_chunks_stored_before_it(pg: Database, tmp_path: Path) -> None:
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS postings_backfill")
        conn.execute(f"CREATE DATABASE postings_backfill OWNER {pg.roles.owner}")
    url = pg.owner_url.rsplit("/", 1)[0] + "/postings_backfill"
    superuser = pg.superuser_url.rsplit("/", 1)[0] + "/postings_backfill"
    with psycopg.connect(superuser, autocommit=True) as conn:  # as bootstrap does
        conn.execute("CREATE EXTENSION vector")
        conn.execute("CREATE EXTENSION pg_trgm")
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0012":
            shutil.copy(path, before / path.name)
    migrate(url, pg.roles.app, before)
    with psycopg.connect(superuser) as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash, role) VALUES ('b@example.com', 'x', "
            "'protostar') RETURNING id"
        ).fetchone()[0]
        bot = conn.execute(
            "INSERT INTO bots (owner_id, slug, name) VALUES (%s, 'backfill', 'B') RETURNING id",
            (user,),
        ).fetchone()[0]
        doc = conn.execute(
            "INSERT INTO documents (bot_id, owner_id, title, filename, media_type, size, "
            "sha256, object_key, status) VALUES (%s, %s, 't', 'f.txt', 'text/plain', 1, 'x', "
            "'k', 'ready') RETURNING id",
            (bot, user),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO chunks (document_id, bot_id, owner_id, ordinal, title, language, text, "
            "terms, embedding_model, embedding) VALUES (%s, %s, %s, 0, 't', 'en', 'x', "
            "ARRAY['rust', 'rust', 'wasm'], 'test:three', '[1,0,0]')",
            (doc, bot, user),
        )
    assert 12 in migrate(url, pg.roles.app)
    expected, posted = _postings(superuser, str(bot))
    assert posted == expected
    assert [(t, tf) for t, _, tf in posted] == [("rust", 2), ("wasm", 1)]
    with psycopg.connect(url) as conn:  # row-level security is forced again
        forced = conn.execute(
            "SELECT relname FROM pg_class WHERE relname IN ('chunks', 'chunk_terms') "
            "AND relforcerowsecurity ORDER BY 1"
        ).fetchall()
    assert forced == [("chunk_terms",), ("chunks",)]
