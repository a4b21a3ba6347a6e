"""The same filtered vector retrieval through langchain-postgres' PGVector retriever
(a widely used peer; the ``bench`` extra), beside ours: latency and recall@10.

Same data: the corpus of bench/corpus.py (built once per process; the ask and recall
benches use it too), copied into PGVector's own tables (``langchain_pg_collection``,
``langchain_pg_embedding``, created by PGVector itself with ``embedding_length=384``):
the same vectors and texts, ``{"bot_id": ...}`` as each row's metadata, our chunk id
as its id. Same k (10), same filter (one bot), same questions (near one of the bot's
chunks), same query vectors: PGVector gets a fake ``Embeddings`` that returns the
question's synthetic vector, as our Retriever gets a fake provider.

PGVector is measured twice:

- as it ships: it creates no vector index, so every query scans the collection and
  filters with ``jsonb_path_match`` (exact, and slow as the table grows);
- with an HNSW index on its embedding column (cosine, pgvector's defaults as ours), the
  usual tuning; it sets no ``hnsw.iterative_scan`` or ``ef_search``, so pgvector's
  defaults apply (ef_search 40, no iterative scan): the filter runs after the index
  scan and a small bot can get fewer than k rows.

Ours: ``Retriever.retrieve`` (vector leg alone: a question without lexical terms),
row-level security, iterative scan, as in the recall bench. recall@10 of each against
exact search on our table (``enable_indexscan = off``). One query at a time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import corpus as corpora
from bench.recall import K, _OneVector, _recall

PEER = "langchain-postgres PGVector retriever"


def _peer_store(corpus: corpora.Corpus) -> Any:
    from langchain_core.embeddings import Embeddings
    from langchain_postgres import PGVector

    class QueryVector(Embeddings):
        """The question's synthetic vector (set before each query)."""

        vector: list[float] = [0.0] * corpora.DIMS

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [self.vector for _ in texts]

        def embed_query(self, text: str) -> list[float]:
            return self.vector

    url = corpus.superuser_url.replace("postgresql://", "postgresql+psycopg://", 1)
    return PGVector(
        embeddings=QueryVector(),
        collection_name="bench",
        connection=url,
        embedding_length=corpora.DIMS,
        use_jsonb=True,
        create_extension=False,
    )


def _load_peer(corpus: corpora.Corpus) -> dict[str, float]:
    """PGVector's tables (made by PGVector) filled with the corpus by binary COPY."""
    import psycopg
    from psycopg.types import TypeInfo
    from psycopg.types.json import Jsonb

    timings: dict[str, float] = {}
    started = time.perf_counter()
    _peer_store(corpus)  # creates the tables and the collection
    with psycopg.connect(corpus.superuser_url) as conn:
        row = conn.execute(
            "SELECT uuid FROM langchain_pg_collection WHERE name = 'bench'"
        ).fetchone()
        assert row is not None
        collection = row[0]
        vector = TypeInfo.fetch(conn, "vector")
        assert vector is not None
        conn.adapters.register_dumper(np.ndarray, corpora._vector_dumper(vector.oid))
        with conn.cursor().copy(
            "COPY langchain_pg_embedding (id, collection_id, embedding, document, cmetadata) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["varchar", "uuid", vector.oid, "varchar", "jsonb"])
            for bot in corpus.bots:
                for j in range(bot.count):
                    i = bot.first + j
                    copy.write_row(
                        (
                            str(i + 1),  # = our chunk id (identity, in load order)
                            collection,
                            corpus.vectors[i],
                            corpora._text(corpus.words, corpus.chunk_words[i]),
                            Jsonb({"bot_id": bot.id}),
                        )
                    )
        conn.execute("ANALYZE langchain_pg_embedding")
        conn.commit()
        timings["copy_s"] = round(time.perf_counter() - started, 1)
    return timings


def _index_peer(corpus: corpora.Corpus) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(corpus.superuser_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        conn.execute(
            "CREATE INDEX langchain_pg_embedding_hnsw ON langchain_pg_embedding "
            "USING hnsw (embedding vector_cosine_ops)"
        )
        conn.execute("ANALYZE langchain_pg_embedding")
    return round(time.perf_counter() - started, 1)


def _peer_query(store: Any, q: corpora.Question) -> list[int]:
    store.embeddings.vector = q.vector
    retriever = store.as_retriever(search_kwargs={"k": K, "filter": {"bot_id": q.bot.id}})
    return [int(doc.id) for doc in retriever.invoke(q.text)]


async def run(quick: bool, work: Path) -> dict[str, Any]:
    from psycopg_pool import AsyncConnectionPool

    from shared.chat.retrieval import RetrievalConfig, Retriever, _vector_query, vector_literal

    try:
        import langchain_postgres  # noqa: F401
    except ImportError as exc:  # the bench extra is part of the lock; say so if it is not
        raise RuntimeError(
            "langchain-postgres is not installed: ./scripts/task syncs the bench extra"
        ) from exc
    corpus = await asyncio.to_thread(corpora.build, quick)
    per_class = 12 if quick else 40
    load = await asyncio.to_thread(_load_peer, corpus)
    store = await asyncio.to_thread(_peer_store, corpus)
    provider = _OneVector()
    config = RetrievalConfig(k=K)
    statement = _vector_query(provider.name, provider.dimensions)
    classes = [
        (label, corpus.questions(corpus.bots_of_share(share), per_class, seed=seed))
        for label, share, seed in (
            ("1%", corpora.BIG_SHARE, 11),
            ("0.1%", corpora.SMALL_SHARE, 13),
        )
    ]
    results: dict[tuple[str, str], tuple[list[list[int]], list[float]]] = {}
    truth: dict[str, list[list[int]]] = {}
    async with AsyncConnectionPool(
        corpus.app_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    ) as pool:
        retriever = Retriever(pool, provider, config)

        async def exact(q: corpora.Question) -> list[int]:
            async with pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT set_config('app.bot_id', %s, true)", (q.bot.id,))
                await conn.execute("SET LOCAL enable_indexscan = off")
                cur = await conn.execute(
                    statement, {"q": vector_literal(q.vector), "bot": q.bot.id, "k": K}
                )
                return [r[0] for r in await cur.fetchall()]

        async def ours(q: corpora.Question) -> list[int]:
            provider.vector = q.vector
            found = await retriever.retrieve(q.bot.id, "what", config=config)
            return [h.chunk_id for h in found.hits]

        async def peer(q: corpora.Question) -> list[int]:
            return await asyncio.to_thread(_peer_query, store, q)

        async def measure(name: str, label: str, qs: Sequence[corpora.Question], op: Any) -> None:
            for q in qs[:3]:
                await op(q)  # warm-up
            got: list[list[int]] = []
            ms: list[float] = []
            for q in qs:
                started = time.perf_counter()
                got.append(await op(q))
                ms.append((time.perf_counter() - started) * 1000)
            results[(name, label)] = (got, ms)

        for label, qs in classes:
            truth[label] = [await exact(q) for q in qs]
        for label, qs in classes:
            await measure("ours", label, qs, ours)
            await measure(f"{PEER}, as shipped (no vector index)", label, qs, peer)
        load["hnsw_index_s"] = await asyncio.to_thread(_index_peer, corpus)
        for label, qs in classes:
            await measure(f"{PEER}, HNSW index (pgvector defaults)", label, qs, peer)
            await measure("ours", label + " (again)", qs, ours)
    rows: list[dict[str, Any]] = []
    for label, qs in classes:
        ours_ms = results[("ours", label)][1] + results[("ours", label + " (again)")][1]
        base_p50 = statistics.median(ours_ms)
        ours_got = results[("ours", label)][0]
        rows.append(_row("ours (Retriever, vector leg)", label, qs, ours_got, ours_ms, truth))
        for name in (
            f"{PEER}, as shipped (no vector index)",
            f"{PEER}, HNSW index (pgvector defaults)",
        ):
            got, ms = results[(name, label)]
            row = _row(name, label, qs, got, ms, truth)
            row["p50_vs_ours"] = round(row["p50_ms"] / base_p50, 2)
            rows.append(row)
    return {
        "figure": (
            f"filtered vector retrieval, k={K}: ours vs langchain-postgres PGVector, "
            f"{corpus.size.chunks:,} chunks over {corpus.size.bots:,} bots"
        ),
        "baseline": "ours (Retriever, vector leg)",
        "aim": "we are faster at equal or better recall",
        "rows": rows,
        "peer_load_s": load,
        "peer_version": _version(),
    }


def _row(
    name: str,
    label: str,
    qs: Sequence[corpora.Question],
    got: list[list[int]],
    ms: list[float],
    truth: dict[str, list[list[int]]],
) -> dict[str, Any]:
    return {
        "name": name,
        "bots": f"{label} of chunks ({qs[0].bot.count:,} each)",
        "queries": len(got),
        "recall_at_10": _recall(got, truth[label]),
        "returned_k_min": min(len(g) for g in got),
        "p50_ms": round(statistics.median(ms), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
        "p95_ms": round(sorted(ms)[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
    }


def _version() -> str:
    from importlib.metadata import version

    return f"langchain-postgres {version('langchain-postgres')}"
