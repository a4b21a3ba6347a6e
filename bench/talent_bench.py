"""``task bench -- --only talent``: talent-search latency without an LLM, over the 166
people of the resume dataset and over 10,000 (quick: 1,000) synthetic people, beside the
bare SQL of the same candidate retrieval.

The 166 are loaded through the real upload and embed steps (bench/talent.py). The
synthetic people are made from them in SQL: each copies one real person's chunks (their
terms, and their vectors with a little noise, renormalised) and one chunk of another,
so the vocabulary and the vector space are the real ones; the chunk HNSW index is
rebuilt after the load and the tables vacuumed, as after a restore. Queries: the tuning set of
``task eval:talent`` (criteria parsed offline, vectors from the packaged model).

- ``search``: :meth:`TalentSearch.run` as the API runs it (parsing, query vectors,
  SQL, ranking, years, evidence), limit 10;
- ``bare SQL``: the same statements of the candidate retrieval (people, lexical leg,
  vector leg, in the search's transaction) with the vectors computed beforehand: what
  any implementation pays.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from bench.measure import Run, latency_row, timed

SEARCH = "search"
BARE = "bare SQL"


async def _synthesize(superuser_url: str, people: int) -> float:
    """Add ``people`` synthetic discoverable people; seconds it took."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        hnsw = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks' "
            "AND indexdef LIKE '%hnsw%'"
        ).fetchall()
        for name, _ in hnsw:
            conn.execute(psycopg.sql.SQL("DROP INDEX {}").format(psycopg.sql.Identifier(name)))
        conn.execute(
            """
            CREATE TEMP TABLE base AS
            SELECT b.id AS bot_id, row_number() OVER (ORDER BY b.slug) - 1 AS n
            FROM bots AS b WHERE b.discoverable;
            CREATE TEMP TABLE syn AS
            SELECT g, gen_random_uuid() AS user_id, gen_random_uuid() AS bot_id,
                   gen_random_uuid() AS doc_id,
                   (g * 7919) % (SELECT count(*) FROM base) AS b1,
                   (g * 104729 + 13) % (SELECT count(*) FROM base) AS b2
            FROM generate_series(1, %s) AS g;
            INSERT INTO users (id, email, password_hash, role)
            SELECT user_id, 'syn-' || g || '@bench.example.com', 'x', 'protostar' FROM syn;
            INSERT INTO bots (id, owner_id, slug, name, discoverable)
            SELECT bot_id, user_id, 'syn-' || lpad(g::text, 5, '0'), 'Synthetic ' || g, true
            FROM syn;
            INSERT INTO documents (id, bot_id, owner_id, title, filename, media_type, size,
                                   sha256, object_key, status, chunk_count, embedding_model)
            SELECT s.doc_id, s.bot_id, s.user_id, 'cv', 'cv.txt', 'text/plain', 1, 'x', 'x',
                   'ready', 1, 'local:all-MiniLM-L6-v2'
            FROM syn AS s;
            INSERT INTO chunks (document_id, bot_id, owner_id, ordinal, title, section,
                                language, text, terms, embedding_model, embedding)
            SELECT s.doc_id, s.bot_id, s.user_id,
                   row_number() OVER (PARTITION BY s.g ORDER BY c.id) - 1,
                   c.title, c.section, c.language, c.text, c.terms, c.embedding_model,
                   l2_normalize(c.embedding + (
                       SELECT array_agg((random() - 0.5) * 0.08 + 0 * d.i + 0 * c.id)::vector
                       FROM generate_series(1, 384) AS d(i)))
            FROM syn AS s
            JOIN base AS b ON b.n IN (s.b1, s.b2)
            JOIN chunks AS c ON c.bot_id = b.bot_id
            WHERE b.n = s.b1 OR c.ordinal = 0;
            """.replace("%s", str(people))
        )
        for _, definition in hnsw:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE")  # as after a restore: visibility maps, statistics
    return time.perf_counter() - started


async def _measure(search: Any, queries: list[Any], rounds: int) -> dict[str, list[Run]]:
    """Interleaved rounds of both contenders over the queries (one in flight)."""
    from shared.resources import settle_heap
    from shared.talent.criteria import parse
    from shared.talent.search import _PEOPLE

    parsed = [parse(q.text) for q in queries]
    prepared = []
    for criteria in parsed:
        texts = search.vector_criteria(criteria)  # what the search embeds and looks up
        vectors = await search.provider.embed([c.search_text or "" for c in texts], task="query")
        prepared.append((criteria, texts, vectors))

    async def full(i: int) -> None:
        await search.run(parse(queries[i].text), 10)

    async def bare(i: int) -> None:
        criteria, texts, vectors = prepared[i]
        async with search.reader() as conn:
            people = [r[0] for r in await (await conn.execute(_PEOPLE)).fetchall()]
            await search._lexical(conn, criteria, people)
            await search._vector(conn, texts, vectors, {b: i for i, b in enumerate(people)})

    order = list(range(len(queries)))
    await timed(order[:5], full)  # warm: the model, the analyzer, the caches
    await timed(order[:5], bare)
    settle_heap()  # as the talent function does after its first search
    out: dict[str, list[Run]] = {SEARCH: [], BARE: []}
    for _ in range(rounds):
        out[SEARCH].append(await timed(order, full))
        out[BARE].append(await timed(order, bare))
    return out


def _rows(name: str, runs: dict[str, list[Run]]) -> list[dict[str, Any]]:
    base = latency_row(BARE, runs[BARE], people=name)
    row = latency_row(SEARCH, runs[SEARCH], people=name)
    row["p50_vs_bare"] = round(row["p50_ms"] / base["p50_ms"], 2)
    row["p95_vs_bare"] = round(row["p95_ms"] / base["p95_ms"], 2)
    return [base, row]


def _prepare(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # embedded PostgreSQL runs as its own user


async def run(quick: bool, work: Path) -> dict[str, Any]:
    from psycopg_pool import AsyncConnectionPool

    from bench.eval import InProcessEmbedder
    from bench.talent import SETS, _load_people, load
    from localplatform.embedded.postgres import EmbeddedPostgres
    from shared.db import bootstrap
    from shared.db.migrate import migrate
    from shared.storage.files import FileObjectStore
    from shared.talent.search import TalentSearch

    _prepare(work)
    secret = secrets.token_urlsafe(16)
    server = EmbeddedPostgres(work / "pg", password=secret, fsync=False)
    server.start()
    synthetic = 1_000 if quick else 10_000
    rounds = 1 if quick else 3
    queries = load(SETS["tune"])[: 12 if quick else None]
    rows: list[dict[str, Any]] = []
    try:
        roles = bootstrap.Roles(owner_password=secret + "o", app_password=secret + "a")
        bootstrap.bootstrap(server.url(), roles)
        owner_url = server.url(roles.owner, roles.owner_password, roles.database)
        migrate(owner_url, roles.app)
        app_url = server.url(roles.app, roles.app_password, roles.database)
        superuser_url = server.url(database=roles.database)
        async with AsyncConnectionPool(
            app_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
        ) as pool:
            store = FileObjectStore(work / "objects", signing_key=b"b", public_base="http://b")
            provider = InProcessEmbedder()
            started = time.perf_counter()
            real = await _load_people(pool, store, provider, owner_url)
            load_s = time.perf_counter() - started
            search = TalentSearch(pool, provider)
            rows += _rows(f"{len(real)}", await _measure(search, queries, rounds))
            synth_s = await _synthesize(superuser_url, synthetic)
            rows += _rows(f"{len(real) + synthetic:,}", await _measure(search, queries, rounds))
    finally:
        server.stop()
    return {
        "figure": (
            f"talent search without an LLM, {len(queries)} HR queries (eval/talent tuning "
            f"set), limit 10; {rounds} interleaved rounds, one in flight"
        ),
        "baseline": BARE,
        "aim": "p95 < 300 ms at 10,000 people",
        "rows": rows,
        "load_s": {"real": round(load_s, 1), "synthetic": round(synth_s, 1)},
    }
