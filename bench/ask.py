"""The ask path without generation, beside the bare SQL of the same retrieval.

Corpus: bench/corpus.py (100k chunks over 1,000 bots, 384-dim; quick: 5k over 50) in
a throw-away embedded PostgreSQL 18 + pgvector; quotas in the Redis on
127.0.0.1:6379 (``BENCH_REDIS_URL`` overrides), under a key prefix of its own that is
deleted afterwards.

What one "ask" is: exactly what ``functions/chat/main.py``'s ``ask`` handler calls for
a JSON answer, in its order, on the real library objects: verify the visitor's guest
token (EdDSA, with the public key only) and its bot binding, look the bot up
(``bot_for_answering``), :meth:`ChatService.prepare` (quota check-and-consume in Redis,
hybrid retrieval under row-level security as the application role, the decision),
the extractive answer (the offline default: best sentences, cited), the citations,
and :meth:`ChatService.finish` (conversation, message and outbox row in one
transaction). The service is driven directly rather than through the chat ASGI app:
the handler adds only JSON parsing and the response object, while going through
httpx's ASGITransport would add the client's own per-request cost and need the
function's process-wide singletons (settings, secrets, factory) rewired.

The query embedding comes from a fake provider that returns the question's synthetic
vector (a dictionary look-up): the embedder's own cost is the embedder bench's figure,
so this one is our path's overhead. The pool is ``shared.db.pool.open_pool`` (checked
connections, as every function) of the deployed size (``DATABASE_POOL_MAX`` in
knative/base/config.yaml); the baseline gets the same number of connections.

Baseline, in the same run: the bare SQL of the same retrieval over psycopg: one
transaction as the application role with the bot scope (row-level security is not
optional), the lexical statement and the vector statement with the same parameters
(terms, k, candidates, ef_search and iterative scan set once per connection), the
terms computed beforehand. Rows at concurrency 1 (p50/p95) and 16 (throughput) are
measured in interleaved rounds (who goes first rotates); a "retrieval only" row
(``Retriever.retrieve``) shows where the time goes.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench import corpus as corpora
from bench.measure import Run, latency_row, rate_row, timed
from shared.chat.contracts import Question
from shared.embeddings import EmbeddingProvider, Task

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 16
ASK = "ask path (no generation)"
RETRIEVE = "retrieval only (Retriever.retrieve)"
BARE = "bare SQL of the same retrieval"


@dataclass(frozen=True)
class _Limits:
    """Never the limit: measure the check and the count, not a refusal."""

    quota_guest_questions: int = 10**9
    quota_stargazer_daily: int = 10**9
    quota_bot_daily_budget: int = 10**12
    quota_timezone: str = "Asia/Seoul"


class QueryVectors(EmbeddingProvider):
    """The synthetic query vector of each question (the embedder is measured apart)."""

    name = corpora.MODEL
    dimensions = corpora.DIMS

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    async def embed(self, texts: Sequence[str], *, task: Task = "document") -> list[list[float]]:
        return [self.vectors[t] for t in texts]


def deployed_pool_size() -> int:
    config = yaml.safe_load((ROOT / "knative" / "base" / "config.yaml").read_text())
    return int(config["data"]["DATABASE_POOL_MAX"])


async def run(quick: bool, work: Path) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from psycopg_pool import AsyncConnectionPool

    from shared.accounts.context import authorize_bot
    from shared.accounts.quotas import Quotas
    from shared.accounts.tokens import TokenIssuer, TokenVerifier
    from shared.cache import open_redis
    from shared.chat.extractive import ExtractiveAnswerer
    from shared.chat.retrieval import (
        _LEXICAL,
        BM25_B,
        BM25_K1,
        RetrievalConfig,
        Retriever,
        _vector_query,
        question_terms,
        vector_literal,
    )
    from shared.chat.service import ChatService
    from shared.db.pool import open_pool
    from shared.settings import Settings

    corpus = await asyncio.to_thread(corpora.build, quick)
    per_round = 40 if quick else 300
    rounds = 1 if quick else 3
    burst = 80 if quick else 480
    warm = 20 if quick else 100
    pool_size = deployed_pool_size()
    fields = Settings.model_fields
    config = RetrievalConfig(
        k=int(fields["retrieval_k"].default), fusion=fields["retrieval_fusion"].default
    )
    questions = corpus.questions(corpus.bots, warm + rounds * (per_round + burst), seed=7)
    provider = QueryVectors({q.text: q.vector for q in questions})
    key = Ed25519PrivateKey.generate()
    issuer = TokenIssuer(
        key, issuer="http://bench", audience="protostar", ttl={"guest": 3600, "access": 900}
    )
    verifier = TokenVerifier(issuer.keys, issuer="http://bench", audience="protostar")
    tokens = {
        q.text: issuer.issue("guest", uuid.uuid4().hex, "guest", bot=q.bot.slug).token
        for q in questions
    }
    prefix = f"bench:ask:{uuid.uuid4().hex}"
    redis = open_redis(REDIS)
    pool = await open_pool(corpus.app_url, name="bench-ask", min_size=1, max_size=pool_size)
    bare = AsyncConnectionPool(
        corpus.app_url,
        min_size=pool_size,
        max_size=pool_size,
        open=False,
        kwargs={"autocommit": True},
        configure=_session_settings(config.ef_search),
    )
    await bare.open(wait=True)
    answered: list[bool] = []
    try:
        retriever = Retriever(pool, provider, config)
        service = ChatService(
            pool,
            redis,
            Quotas(redis, _Limits(), prefix=f"{prefix}:q"),
            retriever,
            ExtractiveAnswerer(),
        )

        async def ask(q: corpora.Question) -> None:
            principal = verifier.principal(tokens[q.text])
            authorize_bot(principal, q.bot.slug)
            bot = await service.bot(q.bot.slug)
            answer = await service.prepare(principal, bot, Question.parse({"question": q.text}))
            try:
                async for _ in answer.pieces():
                    pass
                answer.citations()
                await service.finish(answer)
            except BaseException:
                await service.fail(answer)
                raise
            answered.append(answer.answerable)

        async def retrieve(q: corpora.Question) -> None:
            await retriever.retrieve(q.bot.id, q.text)

        vector_sql = _vector_query(provider.name, provider.dimensions)
        terms = {q.text: question_terms(q.text) for q in questions}

        async def bare_sql(q: corpora.Question) -> None:
            async with bare.connection() as conn, conn.transaction():
                await conn.execute("SELECT set_config('app.bot_id', %s, true)", (q.bot.id,))
                cur = await conn.execute(
                    _LEXICAL,
                    {
                        "terms": terms[q.text][0],
                        "concepts": terms[q.text][1],
                        "bot": q.bot.id,
                        "k": config.candidates,
                        "k1": BM25_K1,
                        "b": BM25_B,
                    },
                )
                await cur.fetchall()
                cur = await conn.execute(
                    vector_sql,
                    {"q": vector_literal(q.vector), "bot": q.bot.id, "k": config.candidates},
                )
                await cur.fetchall()

        contenders = ((ASK, ask), (RETRIEVE, retrieve), (BARE, bare_sql))
        for _name, op in contenders:  # warm-up: connections, caches, the script cache
            await timed(questions[:warm], op, CONCURRENCY)
        seq: dict[str, list[Run]] = {name: [] for name, _ in contenders}
        par: dict[str, list[Run]] = {ASK: [], BARE: []}
        at = warm
        for r in range(rounds):
            order = contenders[r % 3 :] + contenders[: r % 3]  # who goes first rotates
            batch = questions[at : at + per_round]
            at += per_round
            for name, op in order:
                seq[name].append(await timed(batch, op, 1))
            batch = questions[at : at + burst]
            at += burst
            for name, op in order:
                if name in par:
                    par[name].append(await timed(batch, op, CONCURRENCY))
        plan = await _vector_plan(bare, vector_sql, questions[0], config.candidates)
    finally:
        await pool.close()
        await bare.close()
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis.unlink(*keys)
        await redis.aclose()

    rows: list[dict[str, Any]] = []
    base_seq = latency_row(BARE, seq[BARE], mode="concurrency 1")
    for name, _ in contenders:
        row = latency_row(name, seq[name], mode="concurrency 1")
        if name != BARE:
            row["p50_vs_bare"] = round(row["p50_ms"] / base_seq["p50_ms"], 2)
            row["p95_vs_bare"] = round(row["p95_ms"] / base_seq["p95_ms"], 2)
        rows.append(row)
    base_par = rate_row(BARE, par[BARE], mode=f"concurrency {CONCURRENCY}")
    for name in (ASK, BARE):
        row = rate_row(name, par[name], mode=f"concurrency {CONCURRENCY}")
        if name != BARE:
            row["rate_vs_bare"] = round(row["per_s"] / base_par["per_s"], 3)
        rows.append(row)
    return {
        "figure": (
            f"ask path without generation, {corpus.size.chunks:,} chunks over "
            f"{corpus.size.bots:,} bots, {corpora.DIMS}-dim; pool {pool_size} connections"
        ),
        "baseline": BARE,
        "aim": "p95 < 25 ms at concurrency 1; within 3x of the bare SQL",
        "rows": rows,
        "answerable_share": round(statistics.mean(answered), 3) if answered else None,
        "vector_plan": plan,
        "corpus_load_s": corpus.load_seconds,
    }


def _session_settings(ef_search: int) -> Any:
    async def configure(conn: Any) -> None:
        await conn.execute("SET hnsw.iterative_scan = relaxed_order")
        await conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")

    return configure


async def _vector_plan(pool: Any, query: Any, q: corpora.Question, k: int) -> str:
    """The vector statement's plan (which index it used), for the report."""
    from psycopg import sql

    from shared.chat.retrieval import vector_literal

    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.bot_id', %s, true)", (q.bot.id,))
        cur = await conn.execute(
            sql.SQL("EXPLAIN (COSTS OFF) {}").format(query),
            {"q": vector_literal(q.vector), "bot": q.bot.id, "k": k},
        )
        return " / ".join(r[0].strip() for r in await cur.fetchall())
