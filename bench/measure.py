"""Timing helpers of the retrieval benches: latency runs at a fixed number in flight,
interleaved rounds (so a change in the machine's load weighs on every contender
alike), and the summary row (medians over rounds, with min and max)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Run:
    ops: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.ops / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def timed(
    items: Sequence[T], op: Callable[[T], Awaitable[object]], in_flight: int = 1
) -> Run:
    """Run ``op`` over ``items`` with ``in_flight`` workers; latency of each call."""
    latencies: list[float] = []
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            item = queue.pop()
            started = time.perf_counter_ns()
            await op(item)
            latencies.append((time.perf_counter_ns() - started) / 1e6)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return Run(len(items), time.perf_counter() - started, latencies)


def latency_row(name: str, runs: list[Run], **extra: Any) -> dict[str, Any]:
    """p50/p95 as the median over runs (each run's own percentile), with min and max."""
    p50 = [r.pct(50) for r in runs]
    p95 = [r.pct(95) for r in runs]
    return {
        "name": name,
        **extra,
        "ops": sum(r.ops for r in runs),
        "runs": len(runs),
        "p50_ms": round(statistics.median(p50), 2),
        "p50_ms_min": round(min(p50), 2),
        "p50_ms_max": round(max(p50), 2),
        "p95_ms": round(statistics.median(p95), 2),
        "p95_ms_min": round(min(p95), 2),
        "p95_ms_max": round(max(p95), 2),
    }


def rate_row(name: str, runs: list[Run], **extra: Any) -> dict[str, Any]:
    rates = [r.rate for r in runs]
    return {
        "name": name,
        **extra,
        "ops": sum(r.ops for r in runs),
        "runs": len(runs),
        "per_s": round(statistics.median(rates), 1),
        "per_s_min": round(min(rates), 1),
        "per_s_max": round(max(rates), 1),
        "p95_ms": round(statistics.median(r.pct(95) for r in runs), 2),
    }
