"""Quota check-and-consume latency and rate, beside a raw Redis INCR in the same run;
argon2 hashes per second per core with the settings' default parameters.

Against the local Redis on 127.0.0.1:6379 (``BENCH_REDIS_URL`` overrides), under a key
prefix of its own that is deleted afterwards. Each figure is measured sequentially (one
request at a time: the round trip) and with 16 in flight on one client (its pool opens
16 connections), after a warm-up. A quota check is one EVALSHA of the Lua script that
checks and increments a stargazer's daily counter and the bot's budget together; the
baseline is one INCR, the cheapest write Redis answers.

argon2 (password hashing, argon2-cffi) is measured only when the package is installed:
one thread hashing back to back, so the figure is per core.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.accounts.principal import Principal
from shared.accounts.quotas import Quotas
from shared.cache import open_redis

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CONCURRENCY = 16
ROUNDS = 8
RAW = "raw Redis INCR"
QUOTA = "quota check-and-consume"


@dataclass(frozen=True)
class _Limits:
    quota_guest_questions: int = 3
    quota_stargazer_daily: int = 10**12  # never the limit: measure the check, not a refusal
    quota_bot_daily_budget: int = 10**12
    quota_timezone: str = "Asia/Seoul"


@dataclass
class Result:
    name: str
    mode: str
    ops: int
    seconds: float
    latencies_us: list[float]

    @property
    def rate(self) -> float:
        return self.ops / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_us)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _measure(
    name: str, mode: str, ops: int, in_flight: int, op: Callable[[], Awaitable[object]]
) -> Result:
    latencies: list[float] = []
    per_worker = ops // in_flight

    async def worker() -> None:
        for _ in range(per_worker):
            started = time.perf_counter_ns()
            await op()
            latencies.append((time.perf_counter_ns() - started) / 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    return Result(name, mode, per_worker * in_flight, elapsed, latencies)


def _merge(parts: list[Result]) -> Result:
    first = parts[0]
    return Result(
        first.name,
        first.mode,
        sum(p.ops for p in parts),
        sum(p.seconds for p in parts),
        [x for p in parts for x in p.latencies_us],
    )


async def _redis_runs(ops: int, repeats: int) -> dict[tuple[str, str], list[Result]]:
    """Raw INCR and the quota check alternate in ROUNDS slices, so that a change in the
    machine's load during the run weighs on both alike."""
    prefix = f"bench:quota:{uuid.uuid4().hex}"
    client = open_redis(REDIS)
    runs: dict[tuple[str, str], list[Result]] = {}
    try:
        quotas = Quotas(client, _Limits(), clock=lambda: datetime.now(UTC), prefix=f"{prefix}:q")
        asker = Principal("bench-stargazer", "stargazer")
        raw_key = f"{prefix}:raw"

        async def incr() -> object:
            return await client.incr(raw_key)

        async def consume() -> object:
            return await quotas.consume(asker, "bench-bot")

        ops_by_name = ((RAW, incr), (QUOTA, consume))
        for mode, in_flight in (("sequential", 1), (f"concurrency {CONCURRENCY}", CONCURRENCY)):
            for _name, op in ops_by_name:  # warm-up: connections, the script cache
                for _ in range(max(1, 400 // in_flight)):
                    await asyncio.gather(*(op() for _ in range(in_flight)))
            for _attempt in range(repeats):
                parts: dict[str, list[Result]] = {RAW: [], QUOTA: []}
                for _round in range(ROUNDS):
                    for name, op in ops_by_name:
                        parts[name].append(await _measure(name, mode, ops // ROUNDS, in_flight, op))
                for name, results in parts.items():
                    runs.setdefault((name, mode), []).append(_merge(results))
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.unlink(*keys)
        await client.aclose()
    return runs


def _argon2_row(hashes: int) -> dict[str, Any] | None:
    try:
        from argon2 import PasswordHasher
    except ImportError:
        return None
    from shared.settings import Settings

    fields = Settings.model_fields
    time_cost = int(fields["argon2_time_cost"].default)
    memory_kib = int(fields["argon2_memory_kib"].default)
    parallelism = int(fields["argon2_parallelism"].default)
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    hasher.hash("warm-up password")
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(hashes):
        one = time.perf_counter_ns()
        hasher.hash(f"correct horse battery staple {i}")
        latencies.append((time.perf_counter_ns() - one) / 1000)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "name": f"argon2id hash (t={time_cost}, m={memory_kib} KiB, p={parallelism})",
        "mode": "sequential, 1 thread",
        "ops": hashes,
        "p50_us": round(latencies[len(latencies) // 2], 1),
        "p99_us": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "hashes_per_s_per_core": round(hashes / elapsed, 2),
    }


async def run(quick: bool, work: Path) -> dict[str, Any]:
    """Every figure of this bench, as rows plus ratios against raw INCR (same mode)."""
    ops = 3200 if quick else 32000
    repeats = 1 if quick else 3
    runs = await _redis_runs(ops, repeats)

    def median(results: list[Result]) -> Result:
        return sorted(results, key=lambda r: r.rate)[len(results) // 2]

    rows: list[dict[str, Any]] = []
    for (name, mode), results in runs.items():
        mid = median(results)
        row: dict[str, Any] = {
            "name": name,
            "mode": mode,
            "ops": mid.ops,
            "p50_us": round(mid.pct(50), 1),
            "p99_us": round(mid.pct(99), 1),
            "checks_per_s": round(mid.rate, 1),
            "checks_per_s_min": round(min(r.rate for r in results), 1),
            "checks_per_s_max": round(max(r.rate for r in results), 1),
            "p99_us_min": round(min(r.pct(99) for r in results), 1),
            "p99_us_max": round(max(r.pct(99) for r in results), 1),
            "runs": len(results),
        }
        if name != RAW:
            raw = median(runs[(RAW, mode)])
            row["p50_vs_raw"] = round(mid.pct(50) / raw.pct(50), 2)
            row["p99_vs_raw"] = round(mid.pct(99) / raw.pct(99), 2)
            row["rate_vs_raw"] = round(mid.rate / raw.rate, 3)
        rows.append(row)
    argon2 = await asyncio.to_thread(_argon2_row, 5 if quick else 20)
    if argon2 is not None:
        rows.append(argon2)
    return {
        "figure": "quota check-and-consume (one Lua script) latency and rate; argon2 per core",
        "baseline": RAW,
        "aim": "quota p99 < 2 ms and within 1.5x of raw INCR (same mode)",
        "rows": rows,
    }
