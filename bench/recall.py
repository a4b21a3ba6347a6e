"""recall@10 of the filtered vector leg, as the Retriever queries it, against exact
search with the same filter, for bots holding 1% and 0.1% of all chunks.

Corpus: bench/corpus.py (the same one the ask bench uses, built once per process).
For each class, questions near one of the bot's chunks (bench/corpus.py) go through
``Retriever.retrieve`` with k = 10 and a question that has no lexical terms, so the
ranking is the vector leg's alone: one transaction under row-level security as the
application role, ``hnsw.iterative_scan = relaxed_order``, ``hnsw.ef_search`` from
``RetrievalConfig``, the bot filter, ``LIMIT candidates``, re-sorted exactly.

Exact search (the baseline): the same statement in a transaction with
``SET LOCAL enable_indexscan = off``, so no HNSW scan can run: the bot's rows come
through the ``chunks_bot`` b-tree (bitmap) and are sorted by the true distance.

Rows also show the plan the planner chose for the Retriever's statement: for a bot
with few rows it may pick the b-tree and sort (which is exact), and only larger bots
use the HNSW index, so the plan is part of the result. Variants in the same run show
what HNSW alone would give (the b-tree plan disabled) at ef_search 40 (pgvector's
default) and 100 (ours), relaxed and strict order.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import corpus as corpora
from shared.embeddings import EmbeddingProvider, Task

K = 10


class _OneVector(EmbeddingProvider):
    name = corpora.MODEL
    dimensions = corpora.DIMS

    def __init__(self) -> None:
        self.vector: list[float] = []

    async def embed(self, texts: Sequence[str], *, task: Task = "document") -> list[list[float]]:
        return [self.vector for _ in texts]


def plan_kind(lines: list[str]) -> str:
    text = " ".join(lines)
    if "chunks_embedding_local" in text:
        return "HNSW index scan"
    if "chunks_bot" in text:
        return "b-tree + sort (exact)"
    if "Seq Scan" in text:
        return "seq scan + sort (exact)"
    return re.sub(r"'\[[^\]]*\]'", "$q", text)[:120]


async def run(quick: bool, work: Path) -> dict[str, Any]:
    from psycopg import sql
    from psycopg_pool import AsyncConnectionPool

    from shared.chat.retrieval import RetrievalConfig, Retriever, _vector_query, vector_literal

    corpus = await asyncio.to_thread(corpora.build, quick)
    per_class = 12 if quick else 60
    provider = _OneVector()
    config = RetrievalConfig(k=K)
    statement = _vector_query(provider.name, provider.dimensions)
    # The same statement with a bot filter no b-tree can serve: HNSW is the only plan
    # left with enable_seqscan off (the row-level-security qual is an OR of two
    # policies, which no index serves either).
    forced = sql.SQL(
        "SELECT id FROM chunks WHERE bot_id::text = %(bot)s AND embedding_model = {model} "
        "ORDER BY embedding::vector({dims}) <=> %(q)s::vector({dims}) LIMIT %(k)s"
    ).format(model=sql.Literal(corpora.MODEL), dims=sql.Literal(corpora.DIMS))
    rows: list[dict[str, Any]] = []
    async with AsyncConnectionPool(
        corpus.app_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    ) as pool:
        retriever = Retriever(pool, provider, config)

        async def ours(q: corpora.Question) -> list[int]:
            provider.vector = q.vector
            found = await retriever.retrieve(q.bot.id, "what", config=config)
            assert not found.terms  # the vector leg alone decides the ranking
            return [h.chunk_id for h in found.hits]

        async def direct(
            q: corpora.Question,
            settings: dict[str, str],
            explain: bool = False,
            statement: sql.Composed = statement,
        ) -> list[Any]:
            async with pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT set_config('app.bot_id', %s, true)", (q.bot.id,))
                for name, value in settings.items():
                    await conn.execute("SELECT set_config(%s, %s, true)", (name, value))
                query = (
                    sql.SQL("EXPLAIN (COSTS OFF) {}").format(statement) if explain else statement
                )
                cur = await conn.execute(
                    query, {"q": vector_literal(q.vector), "bot": q.bot.id, "k": K}
                )
                return [r[0] for r in await cur.fetchall()]

        exact_settings = {"enable_indexscan": "off"}
        hnsw_only = {"enable_seqscan": "off"}
        variants = {
            "HNSW forced, ef_search 100, relaxed_order": {
                **hnsw_only,
                "hnsw.ef_search": "100",
                "hnsw.iterative_scan": "relaxed_order",
            },
            "HNSW forced, ef_search 40, relaxed_order": {
                **hnsw_only,
                "hnsw.ef_search": "40",
                "hnsw.iterative_scan": "relaxed_order",
            },
            "HNSW forced, ef_search 100, strict_order": {
                **hnsw_only,
                "hnsw.ef_search": "100",
                "hnsw.iterative_scan": "strict_order",
            },
            "HNSW forced, ef_search 40, no iterative scan": {
                **hnsw_only,
                "hnsw.ef_search": "40",
                "hnsw.iterative_scan": "off",
            },
        }
        for label, share in (("1%", corpora.BIG_SHARE), ("0.1%", corpora.SMALL_SHARE)):
            bots = corpus.bots_of_share(share)
            questions = corpus.questions(bots, per_class, seed=11 if share > 0.005 else 13)
            plan = plan_kind(
                await direct(
                    questions[0],
                    {
                        "hnsw.ef_search": str(config.ef_search),
                        "hnsw.iterative_scan": "relaxed_order",
                    },
                    explain=True,
                )
            )
            exact_plan = plan_kind(await direct(questions[0], exact_settings, explain=True))
            assert "HNSW" not in exact_plan, exact_plan
            for q in questions[:3]:  # warm-up
                await ours(q)
                await direct(q, exact_settings)
            truth: list[list[int]] = []
            exact_ms: list[float] = []
            found: list[list[int]] = []
            ours_ms: list[float] = []
            for i, q in enumerate(questions):  # interleaved, alternating who goes first
                for which in (0, 1) if i % 2 else (1, 0):
                    started = time.perf_counter()
                    if which == 0:
                        truth.append(await direct(q, exact_settings))
                        exact_ms.append((time.perf_counter() - started) * 1000)
                    else:
                        found.append(await ours(q))
                        ours_ms.append((time.perf_counter() - started) * 1000)
            base = {
                "bots": f"{label} of chunks ({bots[0].count:,} each)",
                "queries": len(questions),
            }
            rows.append(
                {
                    "name": "exact search (no index scan)",
                    **base,
                    "plan": exact_plan,
                    "recall_at_10": 1.0,
                    "p50_ms": round(statistics.median(exact_ms), 2),
                }
            )
            rows.append(
                {
                    "name": f"Retriever (ef_search {config.ef_search}, relaxed_order)",
                    **base,
                    "plan": plan,
                    "recall_at_10": _recall(found, truth),
                    "min_recall": _recall(found, truth, worst=True),
                    "returned_k": min(len(f) for f in found),
                    "p50_ms": round(statistics.median(ours_ms), 2),
                    "p50_vs_exact": round(
                        statistics.median(ours_ms) / statistics.median(exact_ms), 2
                    ),
                }
            )
            for name, settings in variants.items():
                got: list[list[int]] = []
                ms: list[float] = []
                for q in questions:
                    started = time.perf_counter()
                    got.append(await direct(q, settings, statement=forced))
                    ms.append((time.perf_counter() - started) * 1000)
                rows.append(
                    {
                        "name": name,
                        **base,
                        "plan": plan_kind(
                            await direct(questions[0], settings, explain=True, statement=forced)
                        ),
                        "recall_at_10": _recall(got, truth),
                        "min_recall": _recall(got, truth, worst=True),
                        "returned_k": min(len(g) for g in got),
                        "p50_ms": round(statistics.median(ms), 2),
                    }
                )
    return {
        "figure": (
            f"recall@10 of the filtered vector leg vs exact search, {corpus.size.chunks:,} "
            f"chunks over {corpus.size.bots:,} bots"
        ),
        "baseline": "exact search (no index scan)",
        "aim": "recall@10 >= 0.95 for bots holding 1% and 0.1% of the chunks",
        "rows": rows,
    }


def _recall(found: list[list[int]], truth: list[list[int]], worst: bool = False) -> float:
    each = [
        len(set(f[:K]) & set(t[:K])) / len(t[:K]) for f, t in zip(found, truth, strict=True) if t
    ]
    return round(min(each) if worst else statistics.mean(each), 3)
