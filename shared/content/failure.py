"""A document that will not be processed: status ``failed`` with a human reason and
``dev.protostar.document.failed``, in one transaction. Used by embed (what the parser or
the model refused) and by the dead-letter sink (what no delivery could finish).

Light on purpose: the dead-letter sink imports it, and no parser or model comes with it.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from shared.db.unit import UnitOfWork, unit_of_work
from shared.events.cloudevent import CloudEvent

log = logging.getLogger("protostar.embed")

CONSUMER = "embed"  # the consumer name embed claims events under
SOURCE = "/protostar/embed"
UPLOADED = "dev.protostar.document.uploaded"
FAILED = "dev.protostar.document.failed"


async def already_processed(conn: AsyncConnection, event: CloudEvent) -> bool:
    """Whether embed has committed its effect for ``event`` (its claim is recorded)."""
    cur = await conn.execute(
        "SELECT 1 FROM processed_events WHERE consumer = %s AND source = %s AND event_id = %s",
        (CONSUMER, event.source, event.id),
    )
    return await cur.fetchone() is not None


async def fail_document(uow: UnitOfWork, doc_id: str, bot_id: str, reason: str) -> CloudEvent:
    """Status ``failed`` with its human reason, no chunks, and the event: one unit."""
    reason = reason[:1000]
    conn = uow.conn
    await conn.execute(
        "UPDATE documents SET status = 'failed', error = %s, chunk_count = 0, "
        "updated_at = now() WHERE id = %s",
        (reason, doc_id),
    )
    await conn.execute("DELETE FROM chunks WHERE document_id = %s", (doc_id,))
    event = await uow.record(
        FAILED,
        SOURCE,
        {"document_id": doc_id, "bot_id": bot_id, "reason": reason},
        subject=doc_id,
    )
    log.warning("document failed", extra={"document_id": doc_id, "reason": reason})
    return event


async def give_up(
    pool: AsyncConnectionPool, dead: CloudEvent, *, sink: str | None = None
) -> tuple[str, str | None]:
    """A ``document.uploaded`` event reached the dead-letter sink: no delivery will
    finish it, so the document ends ``failed`` with a human reason and
    ``document.failed`` is recorded (one transaction); returns the outcome.

    Idempotent by state, not by a claim: only a document still ``uploaded`` or
    ``processing`` on behalf of THIS event is failed, so a repeated dead letter changes
    nothing, a dead letter of an event a reindex has superseded leaves the document to
    the newer event, and a later replay or reindex can still make it ``ready`` (embed's
    own claim of the event is never taken here). Returns the outcome and the id of the
    recorded ``document.failed`` event, if any (sent to ``sink`` after the commit).
    """
    try:
        data = dead.json()
        doc_id = str(uuid.UUID(str(data["document_id"])))
        owner = str(uuid.UUID(str(data["owner_id"])))
    except (ValueError, KeyError, TypeError):
        return "ignored", None  # not a document event we can act on; the dead letter is kept
    async with unit_of_work(pool, sink=sink, user=owner) as uow:
        conn = uow.conn
        cur = await conn.execute(
            "SELECT bot_id, status, embed_event, embed_attempts FROM documents "
            "WHERE id = %s FOR UPDATE",
            (doc_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return "gone", None
        bot_id, status, waits_on, attempts = row
        if status not in ("uploaded", "processing") or await already_processed(conn, dead):
            return "settled", None
        if waits_on is not None and waits_on != dead.id:
            return "superseded", None
        event = await fail_document(uow, doc_id, str(bot_id), undeliverable_reason(dead, attempts))
    return "failed", event.id


_UNAVAILABLE = frozenset(
    {
        "unavailable",
        "embedder_unavailable",
        "embedder_timeout",
        "gemini_unavailable",
        "gemini_circuit_open",
    }
)
_REJECTED = frozenset({"embedding_rejected", "gemini_rejected", "invalid_text", "invalid_texts"})


def undeliverable_reason(dead: CloudEvent, attempts: int) -> str:
    """The owner-facing reason from the dead letter's ``knativeerror*`` extensions.

    Built from the error CODE only: the error message of a dependency can name internal
    addresses, which the owner has no use for.
    """
    status = dead.attributes.get("knativeerrorcode", "")
    code = ""
    try:
        body = json.loads(base64.b64decode(dead.attributes.get("knativeerrordata", "")))
        code = str(body["error"]["code"])
    except (ValueError, KeyError, TypeError):
        pass
    if code in _UNAVAILABLE:
        cause = "the embedding service was unavailable"
    elif code in _REJECTED:
        cause = "the embedding service refused the document's text"
    elif status in ("", "0"):
        cause = "the embed service did not answer"
    elif status in ("408", "504"):
        cause = "the embed step ran out of time"
    else:
        cause = f"the embed step failed (HTTP {status}{', ' + code if code else ''})"
    tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
    return f"could not be processed{tries}: {cause}; reindex to retry"
