"""Career documents of a bot: upload (original to the object store, row and event in one
transaction), list, read, delete and reindex. Everything runs as the bot's owner under
row-level security: another user's bot simply does not exist (404)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.accounts.principal import Principal
from shared.bots.owned import bot_owner, owned_bot_id
from shared.db.unit import UnitOfWork, unit_of_work
from shared.documents import inspect_upload
from shared.errors import NotFound
from shared.storage.base import ObjectStore

log = logging.getLogger("protostar.content")

SOURCE = "/protostar/content"
UPLOADED = "dev.protostar.document.uploaded"
DELETED = "dev.protostar.document.deleted"


def _doc_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise NotFound("no such document", code="document_not_found") from None


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "title": row["title"],
        "status": row["status"],
        "chunks": row["chunk_count"],
        "filename": row["filename"],
        "media_type": row["media_type"],
        "size": row["size"],
        "embedding_model": row["embedding_model"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
    if row["error"]:
        out["error"] = row["error"]
    return out


_COLUMNS = (
    "id, title, status, error, chunk_count, filename, media_type, size, "
    "embedding_model, created_at, updated_at"
)


class ContentService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        store: ObjectStore,
        *,
        max_bytes: int,
        broker_url: str | None = None,
    ) -> None:
        self.pool = pool
        self.store = store
        self.max_bytes = max_bytes
        self.broker_url = broker_url  # events go there right after their commit

    def _unit(self, owner: str) -> AbstractAsyncContextManager[UnitOfWork]:
        return unit_of_work(self.pool, sink=self.broker_url, user=owner)

    async def upload(
        self, principal: Principal, slug: str, filename: str | None, data: bytes
    ) -> tuple[dict[str, Any], str]:
        """Store the original, then the row and its event; returns (202 body, event id).

        Bad files are refused before anything is written. If the database step fails,
        the stored original is removed again: nothing is left half-stored.
        """
        owner = bot_owner(principal)
        upload = inspect_upload(data, filename, max_bytes=self.max_bytes)
        async with self.pool.connection() as conn, conn.transaction():
            bot_id = await owned_bot_id(conn, owner, slug)
        doc_id = str(uuid.uuid4())
        key = f"bots/{bot_id}/documents/{doc_id}/{upload.filename}"
        await self.store.put(key, data, upload.media_type.value)
        unit: UnitOfWork | None = None
        try:
            async with self._unit(owner) as uow:
                unit = uow
                conn = uow.conn
                await owned_bot_id(conn, owner, slug)
                title = upload.filename.rsplit(".", 1)[0][:300] or "Untitled document"
                await conn.execute(
                    "INSERT INTO documents (id, bot_id, owner_id, title, filename, media_type, "
                    "size, sha256, object_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        doc_id,
                        bot_id,
                        owner,
                        title,
                        upload.filename,
                        upload.media_type.value,
                        upload.size,
                        hashlib.sha256(data).hexdigest(),
                        key,
                    ),
                )
                event = await uow.record(
                    UPLOADED,
                    SOURCE,
                    {
                        "document_id": doc_id,
                        "bot_id": bot_id,
                        "owner_id": owner,
                        "object_key": key,
                        "media_type": upload.media_type.value,
                        "size": upload.size,
                    },
                    subject=doc_id,
                )
                await conn.execute(
                    "UPDATE documents SET embed_event = %s WHERE id = %s", (event.id, doc_id)
                )
        except BaseException:
            # Nothing half-stored: the original goes unless its row committed (a
            # cancellation while the event is being sent must not orphan the row).
            if unit is None or not unit.committed:
                await self.store.delete(key)
            raise
        return {"id": doc_id, "status": "uploaded"}, event.id

    async def list_documents(self, principal: Principal, slug: str) -> list[dict[str, Any]]:
        owner = bot_owner(principal)
        async with self.pool.connection() as conn, conn.transaction():
            bot_id = await owned_bot_id(conn, owner, slug)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE bot_id = %s "  # noqa: S608
                "ORDER BY created_at",
                (bot_id,),
            )
            return [view(r) for r in await cur.fetchall()]

    async def get(self, principal: Principal, slug: str, raw_id: str) -> dict[str, Any]:
        owner = bot_owner(principal)
        doc_id = _doc_id(raw_id)
        async with self.pool.connection() as conn, conn.transaction():
            bot_id = await owned_bot_id(conn, owner, slug)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE id = %s "  # noqa: S608
                "AND bot_id = %s",
                (doc_id, bot_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no such document", code="document_not_found")
        return view(row)

    async def delete(self, principal: Principal, slug: str, raw_id: str) -> str:
        """Remove the row, its chunks and vectors and record the ``document.deleted``
        event (one transaction), then the original; returns the event's id."""
        owner = bot_owner(principal)
        doc_id = _doc_id(raw_id)
        async with self._unit(owner) as uow:
            conn = uow.conn
            bot_id = await owned_bot_id(conn, owner, slug)
            cur = await conn.execute(
                "DELETE FROM documents WHERE id = %s AND bot_id = %s RETURNING object_key",
                (doc_id, bot_id),
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound("no such document", code="document_not_found")
            event = await uow.record(
                DELETED,
                SOURCE,
                {"document_id": doc_id, "bot_id": bot_id, "owner_id": owner},
                subject=doc_id,
            )
        await self.store.delete_prefix(row[0].rsplit("/", 1)[0] + "/")
        return event.id

    async def reindex(
        self, principal: Principal, slug: str, raw_id: str | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        """Re-embed every document (after a model change), or one (to retry a failed
        one). For the whole bot the old vectors go at once, in the same transaction, so
        two models are never mixed in one bot; for one document only its own go (the
        embed step refuses it if the bot's other vectors are of another model). The
        documents' statuses show the progress."""
        owner = bot_owner(principal)
        doc_id = _doc_id(raw_id) if raw_id is not None else None
        ids: list[str] = []
        async with self._unit(owner) as uow:
            conn = uow.conn
            bot_id = await owned_bot_id(conn, owner, slug)
            params = {"bot": bot_id, "doc": doc_id}
            await conn.execute(
                "DELETE FROM chunks WHERE bot_id = %(bot)s "
                "AND (%(doc)s::uuid IS NULL OR document_id = %(doc)s::uuid)",
                params,
            )
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "UPDATE documents SET status = 'uploaded', error = NULL, chunk_count = 0, "
                "embedding_model = NULL, embed_attempts = 0, updated_at = now() "
                "WHERE bot_id = %(bot)s AND (%(doc)s::uuid IS NULL OR id = %(doc)s::uuid) "
                "RETURNING id, object_key, media_type, size",
                params,
            )
            rows = await cur.fetchall()
            if doc_id is not None and not rows:
                raise NotFound("no such document", code="document_not_found")
            for row in rows:
                event = await uow.record(
                    UPLOADED,
                    SOURCE,
                    {
                        "document_id": str(row["id"]),
                        "bot_id": bot_id,
                        "owner_id": owner,
                        "object_key": row["object_key"],
                        "media_type": row["media_type"],
                        "size": row["size"],
                        "reindex": True,
                    },
                    subject=str(row["id"]),
                )
                await conn.execute(
                    "UPDATE documents SET embed_event = %s WHERE id = %s", (event.id, row["id"])
                )
                ids.append(event.id)
        return {"documents": len(ids), "status": "reindexing"}, ids
