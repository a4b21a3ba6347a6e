"""The transactional outbox: record an event with the change that caused it, send after
commit, and let ``outbox-relay`` re-send whatever the broker has not accepted yet."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import httpx
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from shared.events.catalog import Catalog, default_catalog
from shared.events.cloudevent import CloudEvent, new_event, to_binary
from shared.logs import trace_id_var

log = logging.getLogger(__name__)


def current_traceparent() -> str:
    """A W3C traceparent continuing the current trace (or starting one)."""
    trace_id = trace_id_var.get() or secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


async def record(
    conn: AsyncConnection,
    type_: str,
    source: str,
    data: Any,
    *,
    subject: str | None = None,
    catalog: Catalog | None = None,
) -> CloudEvent:
    """Validate ``data`` and insert the event into the outbox on ``conn``'s transaction."""
    (catalog or default_catalog()).check_data(type_, data)
    event = new_event(
        type_, source, data, subject=subject, extensions={"traceparent": current_traceparent()}
    )
    await conn.execute(
        "INSERT INTO outbox (event_id, source, type, subject, data, traceparent) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (event.id, source, type_, subject, Jsonb(data), event.attributes["traceparent"]),
    )
    return event


_COLUMNS = "event_id, source, type, subject, data, traceparent, created_at"


async def load(pool: AsyncConnectionPool, event_id: str) -> CloudEvent | None:
    """The outbox row of ``event_id`` as the CloudEvent the broker would deliver (for
    running a consumer's step in place of the broker: `task eval`, tests)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE event_id = %s",  # noqa: S608 - a constant
            (event_id,),
        )
        row = await cur.fetchone()
    return _event_from_row(row) if row is not None else None


def _event_from_row(row: Sequence[Any]) -> CloudEvent:
    event_id, source, type_, subject, data, traceparent, created_at = row
    attrs = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": type_,
        "time": created_at.isoformat().replace("+00:00", "Z"),
    }
    if subject:
        attrs["subject"] = subject
    if traceparent:
        attrs["traceparent"] = traceparent
    body = None
    if data is not None:
        attrs["datacontenttype"] = "application/json"
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return CloudEvent(attrs, body)


class BrokerClient:
    """Posts events to the broker ingress (``K_SINK``) in binary mode."""

    def __init__(self, url: str, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.client = client or httpx.AsyncClient(timeout=10.0)

    async def send(self, event: CloudEvent) -> None:
        headers, body = to_binary(event)
        if "traceparent" in event.attributes:
            headers["traceparent"] = event.attributes["traceparent"]
        response = await self.client.post(self.url, content=body, headers=headers)
        if response.status_code >= 300:
            raise httpx.HTTPStatusError(
                f"broker answered {response.status_code}",
                request=response.request,
                response=response,
            )

    async def aclose(self) -> None:
        await self.client.aclose()


async def send_pending(
    pool: AsyncConnectionPool,
    broker: BrokerClient,
    *,
    event_ids: Sequence[str] | None = None,
    limit: int = 200,
    min_age_seconds: float = 0.0,
) -> int:
    """Send unsent outbox events (oldest first); returns how many the broker accepted.

    Rows are locked with SKIP LOCKED, so concurrent relays never send the same row at
    the same time; a send that fails stays unsent, with its error, for the next run.
    """
    sent = 0
    async with pool.connection() as conn, conn.transaction():
        if event_ids is not None:
            cur = await conn.execute(
                "SELECT event_id, source, type, subject, data, traceparent, created_at "
                "FROM outbox WHERE sent_at IS NULL AND event_id = ANY(%s) "
                "ORDER BY seq FOR UPDATE SKIP LOCKED",
                (list(event_ids),),
            )
        else:
            cur = await conn.execute(
                "SELECT event_id, source, type, subject, data, traceparent, created_at "
                "FROM outbox WHERE sent_at IS NULL "
                "AND created_at <= now() - make_interval(secs => %s) "
                "ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (min_age_seconds, limit),
            )
        rows = await cur.fetchall()
        for row in rows:
            event = _event_from_row(row)
            try:
                await broker.send(event)
            except httpx.HTTPError as exc:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = %s "
                    "WHERE event_id = %s",
                    (str(exc)[:500], event.id),
                )
                log.warning(
                    "outbox send failed", extra={"event_id": event.id, "event_type": event.type}
                )
                break  # keep order: the rest waits for the next run
            await conn.execute(
                "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL"
                " WHERE event_id = %s",
                (event.id,),
            )
            entry = default_catalog().entries.get(event.type)
            if entry is not None and entry.sensitive:
                # Secrets (a reset link) stay in the table only until they are handed over.
                await conn.execute(
                    "UPDATE outbox SET data = data - %s::text[] WHERE event_id = %s",
                    (list(entry.sensitive), event.id),
                )
            sent += 1
    return sent


_clients: dict[str, BrokerClient] = {}
AFTER_COMMIT_TIMEOUT = 3.0  # seconds a best-effort send after a commit may take


async def send_after_commit(
    pool: AsyncConnectionPool,
    broker_url: str | None,
    event_ids: Sequence[str] | None = None,
    *,
    limit: int = 200,
) -> None:
    """Right after the commit that recorded them, hand the events to the broker (all
    unsent ones when ``event_ids`` is None). Best effort: what does not get through,
    outbox-relay re-sends, so a failure here is a warning, never the caller's error.
    One client per broker URL per process."""
    if not broker_url or (event_ids is not None and not event_ids):
        return
    client = _clients.get(broker_url)
    if client is None:
        # Short: the request that wrote the events waits for this, and what does not get
        # through in time, outbox-relay sends (consumers are idempotent).
        client = _clients[broker_url] = BrokerClient(
            broker_url, httpx.AsyncClient(timeout=AFTER_COMMIT_TIMEOUT)
        )
    try:
        await send_pending(pool, client, event_ids=event_ids, limit=limit)
    except Exception:
        log.warning("events not sent after commit; outbox-relay will", exc_info=True)
