"""The embed step of a document: extract, chunk, terms, vectors, then chunks + status +
event + the processed-event claim in ONE transaction.

Redelivery-safe: the slow work runs outside any transaction; the final transaction
claims ``(embed, source, id)`` first, so a second delivery of the same event (after a
crash, or concurrently) changes nothing, and a crash before the commit leaves nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from shared.content.failure import (
    CONSUMER,
    SOURCE,
    already_processed,
    fail_document,
)
from shared.db.unit import UnitOfWork, scope, unit_of_work
from shared.documents import budget as _budget
from shared.documents import chunk, extract, index_terms
from shared.documents.budget import time_budget
from shared.documents.errors import DocumentError
from shared.documents.model import MediaType
from shared.embeddings import EmbeddingProvider
from shared.errors import ObjectNotFound
from shared.events.cloudevent import CloudEvent
from shared.events.consume import first_delivery
from shared.storage.base import ObjectStore

log = logging.getLogger("protostar.embed")


@dataclass(frozen=True)
class Prepared:
    title: str
    rows: list[
        tuple[int, str, str, str, str, list[str]]
    ]  # ordinal, title, section, lang, text, terms


def _vector(values: list[float]) -> str:
    return "[" + ",".join(f"{v:.7g}" for v in values) + "]"


def _prepare(data: bytes, media_type: str, filename: str, budget: float) -> Prepared:
    """Extract, chunk and analyze under one time budget (``ExtractionFailed`` past it),
    so that no document can hold the embed function: the thread ends by itself."""
    with time_budget(budget):
        doc = extract(data, MediaType(media_type), filename=filename)
        pieces = chunk(doc)
        if not pieces:
            raise DocumentError("the document has no text to answer from", code="no_text")
        rows = [
            (
                c.ordinal,
                c.title,
                " > ".join(c.section_path),
                c.language,
                c.text,
                index_terms(c.text),
            )
            for c in pieces
        ]
    return Prepared(doc.title, rows)


async def process(
    pool: AsyncConnectionPool,
    store: ObjectStore,
    provider: EmbeddingProvider,
    event: CloudEvent,
    *,
    budget: float | None = None,
    sink: str | None = None,
) -> str:
    """Run the embed step for a ``document.uploaded`` event; returns the outcome
    (``ready``, ``failed``, ``duplicate`` or ``gone``). Its ``document.ready`` or
    ``document.failed`` event goes to ``sink`` right after the commit.

    ``budget``: seconds for extraction, chunking and terms (``TIME_BUDGET_SECONDS``)."""
    data = event.json()
    doc_id, bot_id, owner = data["document_id"], data["bot_id"], data["owner_id"]
    claimed = await _claim(pool, event, doc_id, bot_id, owner)
    if isinstance(claimed, str):
        return claimed
    key, media_type, filename = claimed
    failure: str | None = None
    prepared: Prepared | None = None
    vectors: list[list[float]] = []
    try:
        original = await store.get(key)
        prepared = await asyncio.to_thread(
            _prepare, original, media_type, filename, budget or _budget.TIME_BUDGET_SECONDS
        )
        vectors = await provider.embed([r[4] for r in prepared.rows], task="document")
    except DocumentError as exc:
        failure = exc.message
    except ObjectNotFound:
        failure = "the stored original is missing; upload the document again"
    async with unit_of_work(pool, sink=sink, user=owner) as uow:
        if not await first_delivery(uow.conn, CONSUMER, event):
            return "duplicate"
        cur = await uow.conn.execute("SELECT 1 FROM documents WHERE id = %s FOR UPDATE", (doc_id,))
        if await cur.fetchone() is None:
            return "gone"
        if failure is None and prepared is not None:
            failure = await _mixed_model(uow.conn, bot_id, doc_id, provider.name)
        if failure is not None or prepared is None:
            await fail_document(uow, doc_id, bot_id, failure or "processing failed")
            return "failed"
        await _store(uow, doc_id, bot_id, owner, provider.name, prepared, vectors)
    return "ready"


async def _claim(
    pool: AsyncConnectionPool, event: CloudEvent, doc_id: str, bot_id: str, owner: str
) -> tuple[str, str, str] | str:
    """Mark the document ``processing``: its original's key, media type and file name,
    or the outcome when there is nothing to do (``gone``, ``duplicate``)."""
    async with pool.connection() as conn, conn.transaction():
        await scope(conn, user=owner)
        # Lock the row first: a concurrent delivery that is committing right now is then
        # waited for, and its claim is seen by the check below (READ COMMITTED takes a
        # fresh snapshot per statement), so a finished document is never set back.
        cur = await conn.execute("SELECT 1 FROM documents WHERE id = %s FOR UPDATE", (doc_id,))
        if await cur.fetchone() is None:
            return "gone"
        if await already_processed(conn, event):
            return "duplicate"
        cur = await conn.execute(
            "UPDATE documents SET status = 'processing', error = NULL, "
            "embed_attempts = embed_attempts + 1, updated_at = now() "
            "WHERE id = %s AND bot_id = %s RETURNING object_key, media_type, filename",
            (doc_id, bot_id),
        )
        row = await cur.fetchone()
    if row is None:
        return "gone"  # deleted before we got to it: nothing to do
    return row[0], row[1], row[2]


async def _store(
    uow: UnitOfWork,
    doc_id: str,
    bot_id: str,
    owner: str,
    model: str,
    prepared: Prepared,
    vectors: list[list[float]],
) -> None:
    """The document's chunks (replacing any), status ``ready``, and ``document.ready``."""
    conn = uow.conn
    await conn.execute("DELETE FROM chunks WHERE document_id = %s", (doc_id,))
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO chunks (document_id, bot_id, owner_id, ordinal, title, section, "
            "language, text, terms, embedding_model, embedding) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::vector)",
            [
                (doc_id, bot_id, owner, ordinal, title, section, lang, text, chunk_terms,
                 model, _vector(vector))
                for (ordinal, title, section, lang, text, chunk_terms), vector in zip(
                    prepared.rows, vectors, strict=True
                )
            ],
        )  # fmt: skip
    await conn.execute(
        "UPDATE documents SET status = 'ready', error = NULL, chunk_count = %s, "
        "embedding_model = %s, title = %s, updated_at = now() WHERE id = %s",
        (len(prepared.rows), model, prepared.title[:300], doc_id),
    )
    await uow.record(
        "dev.protostar.document.ready",
        SOURCE,
        {
            "document_id": doc_id,
            "bot_id": bot_id,
            "chunks": len(prepared.rows),
            "embedding_model": model,
        },
        subject=doc_id,
    )


async def _mixed_model(conn: AsyncConnection, bot_id: str, doc_id: str, model: str) -> str | None:
    """A bot's chunks live in one embedding space: refuse to add vectors of another."""
    cur = await conn.execute(
        "SELECT DISTINCT embedding_model FROM chunks WHERE bot_id = %s AND document_id <> %s",
        (bot_id, doc_id),
    )
    others = {r[0] for r in await cur.fetchall()} - {model}
    if others:
        return (
            f"this bot's documents are embedded with {sorted(others)[0]}; reindex the bot "
            f"to move them to {model}"
        )
    return None
