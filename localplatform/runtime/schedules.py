"""Runs PingSources: at each fire time, one CloudEvent to the sink Service."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from localplatform.manifests.pingsource import PingSourceSpec, ping_event_attributes
from shared.events.cloudevent import CloudEvent, to_binary

log = logging.getLogger("protostar.runtime")

ATTEMPTS = 3


@dataclass
class PingStats:
    fired: int = 0
    failed: int = 0
    last_fire: datetime | None = None
    next_fire: datetime | None = None


async def send_ping(
    client: httpx.AsyncClient, url: str, spec: PingSourceSpec, fire_time: datetime
) -> int:
    """Deliver one ping (binary mode), retrying briefly; returns the last status (0: none)."""
    event = CloudEvent(ping_event_attributes(spec, fire_time, str(uuid.uuid4())), spec.data)
    headers, body = to_binary(event)
    status = 0
    for attempt in range(ATTEMPTS):
        try:
            response = await client.post(url, content=body, headers=headers, timeout=60.0)
            status = response.status_code
            if status < 500 and status not in (404, 408, 409, 429):
                return status
        except httpx.HTTPError:
            status = 0
        await asyncio.sleep(0.5 * 2**attempt)
    return status


async def run_pingsource(
    spec: PingSourceSpec, address: Callable[[str], str], client: httpx.AsyncClient, stats: PingStats
) -> None:
    """Fire ``spec`` forever. A fire time missed while the runtime was down is skipped,
    as Knative's adapter does."""
    while True:
        now = datetime.now(UTC)
        fire = spec.next_fire(now)
        stats.next_fire = fire
        await asyncio.sleep(max(0.0, (fire - datetime.now(UTC)).total_seconds()))
        url = address(spec.sink_service) + (spec.sink_uri_path or "")
        status = await send_ping(client, url, spec, fire)
        stats.fired += 1
        stats.last_fire = fire
        if not 200 <= status < 300:
            stats.failed += 1
            log.warning("ping delivery failed", extra={"pingsource": spec.name, "status": status})
