"""Broker throughput and delivery latency, per backend, beside raw aio-pika in the same run.

Each backend run: the real local runtime (``task up``, its own process) with one
Trigger (parallelism 16) delivering to an HTTP subscriber in this process; producers
here POST binary CloudEvents to the runtime's broker ingress, 32 in flight. Messages
are persistent (RabbitMQ quorum queues with publisher confirms; PostgreSQL with fsync
on). Latency is from the
ingress accepting an event to the subscriber receiving it.

Producers use aiohttp: httpx's connection pool costs several ms per request at 32
concurrent requests on this machine (187 req/s against a bare Starlette endpoint, where
aiohttp does 2,900), which would measure the client instead of the broker.

Baseline: aio-pika publishing persistent messages with confirms to a quorum queue and
consuming them (ack per message), 32 publishes in flight: what RabbitMQ itself costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localplatform.broker.model import TriggerSpec
from localplatform.embedded.procs import free_port
from shared.events.cloudevent import new_event, to_binary

RABBIT = "amqp://guest:guest@127.0.0.1:5672/"
ROOT = Path(__file__).resolve().parents[1]
IN_FLIGHT = 32


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "events": self.events,
            "events_per_s": round(self.rate, 1),
            "p50_ms": round(self.pct(50), 2),
            "p95_ms": round(self.pct(95), 2),
            "max_ms": round(max(self.latencies_ms, default=0), 2),
        }


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@contextlib.asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[None]:
    server = _Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="error", lifespan="off", access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def _produce(count: int, post: Callable[[int], Any]) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await post(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


def _manifests(directory: Path, namespace: str, subscriber_url: str) -> Path:
    """knative/base plus one Trigger (parallelism 16) to the bench's subscriber."""
    base = ROOT / "knative" / "base"
    docs: list[Any] = [
        yaml.safe_load((base / "services" / f"{n}.yaml").read_text())
        for n in ("health", "outbox-relay", "deadletter")
    ]
    docs.append(yaml.safe_load((base / "config.yaml").read_text()))
    docs.append(yaml.safe_load((base / "jobs" / "migrate.yaml").read_text()))
    for eventing in ("broker.yaml", "sinkbinding-producers.yaml"):
        docs.append(yaml.safe_load((base / "eventing" / eventing).read_text()))
    docs.append(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {
                "name": "bench",
                "annotations": {"rabbitmq.eventing.knative.dev/parallelism": "16"},
            },
            "spec": {
                "broker": "default",
                "filter": {"attributes": {"type": "dev.bench.event.sent"}},
                "subscriber": {"uri": subscriber_url},
            },
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs))
    (directory / "kustomization.yaml").write_text(
        yaml.safe_dump({"namespace": namespace, "resources": ["all.yaml"]})
    )
    return directory


@contextlib.asynccontextmanager
async def runtime(
    work: Path, env: dict[str, str], subscriber_url: str, namespace: str
) -> AsyncIterator[str]:
    """The real local runtime (``task up``) in its own process; yields its broker URL."""
    data = work / "data"
    manifests = _manifests(work / "manifests", namespace, subscriber_url)
    from shared.settings import Settings

    # A fresh terminal's environment: no Protostar setting of the calling process.
    settings = {n.upper() for n in Settings.model_fields} | {"K_SINK", "BROKER_URL"}
    child_env = {k: v for k, v in os.environ.items() if k.upper() not in settings}
    child_env.update(
        {
            "PROTOSTAR_DATA": str(data),
            "PROTOSTAR_PORT": str(free_port()),
            "LOG_LEVEL": "WARNING",
            **env,
        }
    )
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
        [
            sys.executable,
            "-m",
            "localplatform.runtime",
            "--manifests",
            str(manifests),
            "--status",
            "off",
        ],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (data / "runtime.json").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"runtime did not start (exit {proc.returncode})")
            await asyncio.sleep(0.1)
        yield str(json.loads((data / "runtime.json").read_text())["broker_url"])
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 60)


async def through_runtime(name: str, env: dict[str, str], count: int, work: Path) -> Result:
    received: dict[str, float] = {}
    accepted: dict[str, float] = {}
    target = 0
    done = asyncio.Event()

    async def subscriber(request: Request) -> Response:
        received[request.headers["ce-id"]] = time.perf_counter()
        if len(received) >= target:
            done.set()
        return Response(status_code=202)

    sub_port = free_port()
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    app = Starlette(routes=[Route("/", subscriber, methods=["POST"])])
    async with (
        serve(app, sub_port),
        runtime(work, env, f"http://127.0.0.1:{sub_port}/", namespace) as url,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as client,
    ):

        async def post(i: int) -> None:
            event = new_event("dev.bench.event.sent", "/bench", {"i": i})
            headers, body = to_binary(event)
            async with client.post(url, data=body, headers=headers) as response:
                response.raise_for_status()
            accepted[event.id] = time.perf_counter()

        try:
            for size in (min(300, count // 3), count):  # warm-up, then the measured run
                received.clear()
                accepted.clear()
                done.clear()
                target = size
                started = time.perf_counter()
                await _produce(size, post)
                await asyncio.wait_for(done.wait(), 300)
                elapsed = time.perf_counter() - started
        finally:
            if "RABBITMQ_URL" in env:
                await _delete_queues(namespace)
    latencies = [(received[i] - accepted[i]) * 1000 for i in accepted if i in received]
    return Result(name, count, elapsed, latencies)


async def _delete_queues(namespace: str) -> None:
    from localplatform.broker.rabbitmq import RabbitMQBackend

    backend = RabbitMQBackend(RABBIT, namespace=namespace)
    await backend.start([])
    await backend.delete([TriggerSpec("bench", "default", "", namespace=namespace)])
    await backend.close()


async def raw_aio_pika(count: int) -> Result:
    import aio_pika

    name = f"bench.raw.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect_robust(RABBIT)
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    done = asyncio.Event()
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=16)
        consume_queue = await consume_channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )

        async def on_message(message: Any) -> None:
            got[message.message_id] = time.perf_counter()
            await message.ack()
            if len(got) >= count:
                done.set()

        await consume_queue.consume(on_message)

        async def post(i: int) -> None:
            message_id = str(uuid.uuid4())
            await channel.default_exchange.publish(
                aio_pika.Message(
                    b'{"i":%d}' % i,
                    message_id=message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=name,
            )
            sent[message_id] = time.perf_counter()

        started = time.perf_counter()
        await _produce(count, post)
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - started
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    latencies = [(got[i] - sent[i]) * 1000 for i in sent if i in got]
    return Result("raw aio-pika (confirms + consume)", count, elapsed, latencies)


async def run(quick: bool, work: Path) -> dict[str, Any]:
    """Every figure of this bench, as rows plus ratios against the raw baseline."""
    count = 1000 if quick else 5000
    repeats = 1 if quick else 3
    runs: dict[str, list[Result]] = {}
    for attempt in range(repeats):
        for result in (
            await raw_aio_pika(count),
            await through_runtime(
                "runtime, RabbitMQ backend",
                {"RABBITMQ_URL": RABBIT, "BROKER_BACKEND": "rabbitmq"},
                count,
                work / f"rabbitmq-{attempt}",
            ),
            await through_runtime(
                "runtime, PostgreSQL backend",
                {"BROKER_BACKEND": "postgres"},
                count,
                work / f"postgres-{attempt}",
            ),
        ):
            runs.setdefault(result.name, []).append(result)

    def median_run(results: list[Result]) -> Result:
        return sorted(results, key=lambda r: r.rate)[len(results) // 2]

    medians = {name: median_run(results) for name, results in runs.items()}
    raw = medians["raw aio-pika (confirms + consume)"]
    rows = []
    for name, results in runs.items():
        row = medians[name].row()
        row["events_per_s_min"] = round(min(r.rate for r in results), 1)
        row["events_per_s_max"] = round(max(r.rate for r in results), 1)
        row["runs"] = len(results)
        if medians[name] is not raw:
            row["rate_vs_raw"] = round(medians[name].rate / raw.rate, 3)
            row["p95_vs_raw"] = round(medians[name].pct(95) / raw.pct(95), 2)
        rows.append(row)
    return {
        "figure": "events/s and delivery latency per broker backend (persistent)",
        "baseline": raw.name,
        "aim": ">= 1000 events/s through RabbitMQ; p95 < 25 ms",
        "rows": rows,
    }
