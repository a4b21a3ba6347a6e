"""Broker backend on PostgreSQL: one durable row per (event, Trigger).

Publishing inserts the rows of every matching Trigger in one transaction (committed
before the ingress answers 202). Workers lease the oldest row with
``FOR UPDATE SKIP LOCKED``, deliver, then delete it. A crash leaves the row (its lease
is cleared when the runtime starts again), so every accepted event is delivered at
least once. ``LISTEN/NOTIFY`` wakes idle workers without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from localplatform.broker.backend import Backend, Handler
from localplatform.broker.model import TriggerSpec
from shared.events.cloudevent import CloudEvent

log = logging.getLogger("protostar.broker")

CHANNEL = "protostar_broker"
LEASE = "10 minutes"


class PostgresBackend(Backend):
    def __init__(self, url: str, *, namespace: str = "protostar", pool_size: int = 8) -> None:
        self.url = url
        self.namespace = namespace
        self.pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "application_name": "protostar-broker"},
        )
        self.triggers: dict[str, list[TriggerSpec]] = {}
        self._wakeups: dict[tuple[str, str], asyncio.Event] = {}
        self._listener: asyncio.Task[None] | None = None

    async def start(self, triggers: Sequence[TriggerSpec]) -> None:
        await self.pool.open(wait=True, timeout=30)
        for t in triggers:
            self.triggers.setdefault(t.broker, []).append(t)
            self._wakeups[(self._key(t.broker), t.name)] = asyncio.Event()
        async with self.pool.connection() as conn:
            # We are the only runtime on this data: leases of a previous run are void.
            await conn.execute(
                "UPDATE broker_messages SET leased_until = NULL "
                "WHERE leased_until IS NOT NULL AND broker = ANY(%s)",
                ([self._key(b) for b in self.triggers],),
            )
        self._listener = asyncio.create_task(self._listen(), name="broker-listen")

    def _key(self, broker: str) -> str:
        return f"{self.namespace}.{broker}"

    async def _listen(self) -> None:
        while True:
            try:
                conn = await AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    for event in self._wakeups.values():  # catch up after a reconnect
                        event.set()
                    async for note in conn.notifies():
                        broker, _, trigger = note.payload.partition("/")
                        wake = self._wakeups.get((broker, trigger))
                        if wake is not None:
                            wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("broker listener lost its connection; reconnecting")
                await asyncio.sleep(1.0)

    async def publish(self, broker: str, event: CloudEvent) -> None:
        matching = [t for t in self.triggers.get(broker, []) if t.matches(event.attributes)]
        if not matching:
            return
        attrs = Jsonb(dict(event.attributes))
        key = self._key(broker)
        async with self.pool.connection() as conn, conn.transaction():
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO broker_messages (broker, trigger_name, attributes, data) "
                    "VALUES (%s, %s, %s, %s)",
                    [(key, t.name, attrs, event.data) for t in matching],
                )
            for t in matching:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{key}/{t.name}"))

    async def _lease(self, trigger: TriggerSpec) -> tuple[int, CloudEvent] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """UPDATE broker_messages SET leased_until = now() + %s::interval,
                           attempts = attempts + 1
                    WHERE seq = (
                        SELECT seq FROM broker_messages
                        WHERE broker = %s AND trigger_name = %s
                          AND (leased_until IS NULL OR leased_until < now())
                          AND not_before <= now()
                        ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING seq, attributes, data""",
                (LEASE, self._key(trigger.broker), trigger.name),
            )
            row = await cur.fetchone()
        if row is None:
            return None
        seq, attributes, data = row
        attrs = attributes if isinstance(attributes, dict) else json.loads(attributes)
        return int(seq), CloudEvent(
            {str(k): str(v) for k, v in attrs.items()}, bytes(data) if data is not None else None
        )

    async def consume(self, trigger: TriggerSpec, handler: Handler) -> None:
        workers = [
            asyncio.create_task(self._worker(trigger, handler), name=f"broker-{trigger.name}-{i}")
            for i in range(max(1, trigger.parallelism))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, trigger: TriggerSpec, handler: Handler) -> None:
        wake = self._wakeups[(self._key(trigger.broker), trigger.name)]
        while True:
            try:
                leased = await self._lease(trigger)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("broker could not lease", extra={"trigger": trigger.name})
                await asyncio.sleep(1.0)
                continue
            if leased is None:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=1.0)
                continue
            if trigger.parallelism > 1:
                wake.set()  # there may be more for the other workers
            seq, event = leased
            try:
                await handler(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "delivery failed; event kept",
                    extra={"trigger": trigger.name, "event_id": event.id},
                )
                await self._release(seq)
                await asyncio.sleep(0.5)
                continue
            await self._ack(seq)

    async def _ack(self, seq: int) -> None:
        while True:
            try:
                async with self.pool.connection() as conn:
                    await conn.execute("DELETE FROM broker_messages WHERE seq = %s", (seq,))
                return
            except Exception:
                log.warning("broker could not ack; retrying", extra={"seq": seq})
                await asyncio.sleep(0.5)

    async def _release(self, seq: int) -> None:
        """Hand the row back (retried like _ack; a lost release still expires with its
        lease, so the event is delivered later, never stuck)."""
        for _ in range(20):
            try:
                async with self.pool.connection() as conn:
                    await conn.execute(
                        "UPDATE broker_messages SET leased_until = NULL, "
                        "not_before = now() + interval '1 second' WHERE seq = %s",
                        (seq,),
                    )
                return
            except Exception:
                log.warning("broker could not release; retrying", extra={"seq": seq})
                await asyncio.sleep(0.5)

    async def depth(self, trigger: TriggerSpec) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM broker_messages WHERE broker = %s AND trigger_name = %s",
                (self._key(trigger.broker), trigger.name),
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.pool.close()
