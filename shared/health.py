"""Readiness of the parts a function depends on: PostgreSQL, Redis, the object store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from shared.api.contract import Reply
from shared.logs import redact
from shared.resources import Resources

CHECK_TIMEOUT = 2.0


async def _postgres(res: Resources) -> None:
    pool = await res.pool()
    async with pool.connection(timeout=CHECK_TIMEOUT) as conn:
        await conn.execute("SELECT 1")


async def _redis(res: Resources) -> None:
    await res.redis().ping()


async def _object_store(res: Resources) -> None:
    await res.object_store().check()


CHECKS: dict[str, Callable[[Resources], Awaitable[None]]] = {
    "postgres": _postgres,
    "redis": _redis,
    "object_store": _object_store,
}


async def _run(
    name: str, check: Callable[[Resources], Awaitable[None]], res: Resources
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(res), CHECK_TIMEOUT)
    except Exception as exc:
        reason = str(exc) or exc.__class__.__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {CHECK_TIMEOUT:.0f}s"
        return {"status": "down", "error": redact(reason)[:300]}
    return {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def check_all(res: Resources) -> tuple[bool, dict[str, Any]]:
    """Run every check concurrently; (all up?, report)."""
    names = list(CHECKS)
    results = await asyncio.gather(*(_run(n, CHECKS[n], res) for n in names))
    parts = dict(zip(names, results, strict=True))
    ok = all(p["status"] == "up" for p in parts.values())
    failed = [n for n, p in parts.items() if p["status"] != "up"]
    report: dict[str, Any] = {"status": "ok" if ok else "degraded", "checks": parts}
    if failed:
        report["failed"] = failed
    return ok, report


class Check(Reply):
    status: Literal["up", "down"]
    latency_ms: float | None = None
    error: str | None = None


class HealthView(Reply):
    status: Literal["ok", "degraded"]
    checks: dict[str, Check]
    failed: list[str] | None = None
