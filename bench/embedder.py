"""Embedding throughput: the embedder function over HTTP beside raw sentence-transformers,
and our own overhead on the Gemini path against a zero-latency fake.

Local: the real embedder function (``functions/embedder/main.py``) in its own process,
served the way the local runtime serves it (``python -m localplatform.runtime.serve``), called
by ``LocalEmbedder`` (one request per batch of 64); beside it, in this process and on
the same texts, the packaged all-MiniLM-L6-v2 loaded with sentence-transformers and
``encode``d directly (batch 64, normalised, the same torch thread count). The two take
turns batch by batch and never run at the same time.
Texts: 500-900 character chunks cut (fixed seed) from the distinct resumes of
``../shared/data/resumes/UpdatedResumeDataSet.csv`` when present, else synthetic.

Gemini: ``GeminiEmbedder`` (google-genai, tenacity, the circuit breaker, with its state
in Redis when one is reachable) against the fake Gemini server of the tests, answering
at once; baseline: a bare aiohttp POST of the same ``batchEmbedContents`` body. The
difference is what our client stack costs per request of 100 texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from localplatform.embedded.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "data" / "resumes" / "UpdatedResumeDataSet.csv"
SEED = 20260105
BATCH = 64
GEMINI_BATCH = 100
BENCH_KEY = "AIza-bench-not-a-real-key"


def gemini_request(url: str, texts: list[str]) -> tuple[str, bytes, dict[str, str]]:
    """The raw ``batchEmbedContents`` call the SDK makes for ``texts`` (the baseline)."""
    body = {
        "requests": [
            {
                "content": {"parts": [{"text": t}], "role": "user"},
                "taskType": "RETRIEVAL_DOCUMENT",
                "outputDimensionality": 768,
                "model": "models/gemini-embedding-001",
            }
            for t in texts
        ]
    }
    endpoint = f"{url}/v1beta/models/gemini-embedding-001:batchEmbedContents"
    headers = {"Content-Type": "application/json", "x-goog-api-key": BENCH_KEY}
    return endpoint, json.dumps(body).encode(), headers


# ----------------------------------------------------------------------------- texts


def corpus(count: int) -> tuple[list[str], str]:
    """``count`` chunks of 500-900 characters, the same on every run."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible text, not secrets
    if DATASET.is_file():
        csv.field_size_limit(sys.maxsize)
        with DATASET.open(newline="", encoding="utf-8", errors="replace") as f:
            resumes = list(dict.fromkeys(row["Resume"] for row in csv.DictReader(f)))
        text = re.sub(r"\s+", " ", " ".join(resumes[:160]))
        source = f"{DATASET.name} (first 160 distinct resumes)"
    else:
        words = [
            "designed", "built", "operated", "migrated", "led", "mentored", "deployed",
            "Kubernetes", "RabbitMQ", "PostgreSQL", "Redis", "Kafka", "Python", "Java",
            "services", "pipelines", "teams", "latency", "throughput", "incidents",
        ]  # fmt: skip
        text = " ".join(rng.choice(words) for _ in range(count * 130)) + "."
        source = "synthetic"
    chunks: list[str] = []
    position = 0
    while len(chunks) < count:
        if position + 900 > len(text):
            position = rng.randrange(0, 5000)  # wrap around at another offset
        length = rng.randint(500, 900)
        end = text.rfind(" ", position + 500, position + length) if length > 500 else -1
        end = position + length if end <= position else end
        chunks.append(text[position:end].strip())
        position = end
    return chunks, source


# ----------------------------------------------------------------------------- local


@contextlib.asynccontextmanager
async def embedder_process(work: Path) -> AsyncIterator[tuple[str, float]]:
    """The embedder function in its own process; yields its URL and the model load time."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before it starts
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "K_SERVICE": "embedder",
        "FUNCTION_TARGET": "embedder",
        "FUNCTION_SIGNATURE_TYPE": "http",
    }
    log = (work / "embedder.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
        [
            sys.executable,
            "-m",
            "localplatform.runtime.serve",
            "--target",
            "embedder",
            "--source",
            str(ROOT / "functions" / "embedder" / "main.py"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedder did not start (see {work / 'embedder.log'})")
            await asyncio.sleep(0.05)
        timeout = aiohttp.ClientTimeout(total=300)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{url}/healthz") as response,
        ):
            health = await response.json()
            if response.status != 200:
                raise RuntimeError(f"embedder is not healthy: {health}")
        yield url, float(health["load_seconds"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def load_raw_model() -> Any:
    """The packaged model the plain sentence-transformers way, same threads as the service."""
    from shared.embeddings.model import cpu_threads, packaged_model_path

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(cpu_threads())
    return SentenceTransformer(str(packaged_model_path()), device="cpu")


def raw_encode(model: Any, texts: list[str]) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started


async def local_rows(quick: bool, work: Path) -> tuple[list[dict[str, Any]], str]:
    from shared.embeddings.local import LocalEmbedder

    count = 2 * BATCH if quick else 10 * BATCH
    repeats = 2 if quick else 3
    texts, source = corpus(count)
    # Both paths do the same forward passes: sentence-transformers sorts a call's texts
    # by length and cuts batches of 64, LocalEmbedder cuts its requests the same way.
    # The speed of a shared 2-core machine drifts by 20 % from one minute to the next,
    # so the paths take turns batch by batch (who goes first alternates) and each total
    # sums the same batches measured side by side.
    ordered = sorted(texts, key=len)
    batches = [ordered[i : i + BATCH] for i in range(0, count, BATCH)]
    service_s: list[float] = []
    raw_s: list[float] = []
    # The raw model loads here while the service's process loads its own.
    loading = asyncio.ensure_future(asyncio.to_thread(load_raw_model))
    async with embedder_process(work) as (url, load_s):
        model = await loading
        provider = LocalEmbedder(url, batch_size=BATCH)

        async def service(batch: list[str]) -> float:
            started = time.perf_counter()
            vectors = await provider.embed(batch)
            assert len(vectors) == len(batch)
            return time.perf_counter() - started

        async def raw(batch: list[str]) -> float:
            return await asyncio.to_thread(raw_encode, model, batch)

        try:
            await service(batches[-1])  # warm-up: the longest batch, both ways
            await raw(batches[-1])
            for repeat in range(repeats):
                service_s.append(0.0)
                raw_s.append(0.0)
                for i, batch in enumerate(batches):
                    if (repeat + i) % 2:
                        raw_s[-1] += await raw(batch)
                        service_s[-1] += await service(batch)
                    else:
                        service_s[-1] += await service(batch)
                        raw_s[-1] += await raw(batch)
        finally:
            await provider.close()
    raw_rate = count * repeats / sum(raw_s)
    service_rate = count * repeats / sum(service_s)
    chars = round(sum(map(len, texts)) / len(texts))
    rows = [
        {
            "name": "raw sentence-transformers encode",
            "chunks": count,
            "chunk_chars": chars,
            "chunks_per_s": round(raw_rate, 1),
            "chunks_per_s_min": round(count / max(raw_s), 1),
            "chunks_per_s_max": round(count / min(raw_s), 1),
            "runs": repeats,
        },
        {
            "name": "embedder function over HTTP",
            "chunks": count,
            "chunk_chars": chars,
            "chunks_per_s": round(service_rate, 1),
            "chunks_per_s_min": round(count / max(service_s), 1),
            "chunks_per_s_max": round(count / min(service_s), 1),
            "runs": repeats,
            "vs_raw": round(service_rate / raw_rate, 3),
            "model_load_s": load_s,
        },
    ]
    return rows, source


# ----------------------------------------------------------------------------- gemini


def _redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL")
    if url:
        return url
    with socket.socket() as sock:
        sock.settimeout(0.2)
        if sock.connect_ex(("127.0.0.1", 6379)) == 0:
            return "redis://127.0.0.1:6379/0"
    return None


def _timing_row(name: str, latencies: list[float], seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "name": name,
        "requests": len(latencies),
        "texts_per_request": GEMINI_BATCH,
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2),
    }


async def gemini_rows(quick: bool) -> list[dict[str, Any]]:
    from google import genai
    from google.genai import types

    from shared.embeddings.gemini import GeminiEmbedder
    from tests.embeddings.fake_gemini import FakeGemini, serve

    count = 40 if quick else 300
    texts, _ = corpus(GEMINI_BATCH)
    fake = FakeGemini(BENCH_KEY)
    redis_url = _redis_url()
    namespace = f"bench:breaker:{os.getpid()}"
    async with serve(fake.app, free_port()) as url:
        endpoint, body, headers = gemini_request(url, texts)
        session = aiohttp.ClientSession()
        sdk = genai.Client(
            api_key=BENCH_KEY,
            http_options=types.HttpOptions(
                base_url=url,
                api_version="v1beta",
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )
        in_process = GeminiEmbedder(api_key=BENCH_KEY, base_url=url)
        in_redis = (
            GeminiEmbedder(
                api_key=BENCH_KEY, base_url=url, redis_url=redis_url, breaker_namespace=namespace
            )
            if redis_url
            else None
        )

        async def raw() -> None:
            async with session.post(endpoint, data=body, headers=headers) as response:
                data = await response.json()
                assert len(data["embeddings"]) == GEMINI_BATCH

        async def sdk_alone() -> None:
            response = await sdk.aio.models.embed_content(
                model="gemini-embedding-001",
                contents=texts,
                config=types.EmbedContentConfig(
                    task_type="RETRIEVAL_DOCUMENT", output_dimensionality=768
                ),
            )
            assert len(response.embeddings or []) == GEMINI_BATCH

        def provider(embedder: GeminiEmbedder) -> Any:
            async def call() -> None:
                assert len(await embedder.embed(texts)) == GEMINI_BATCH

            return call

        paths: dict[str, Any] = {
            "raw aiohttp POST to fake Gemini": raw,
            "google-genai embed_content alone": sdk_alone,
            "GeminiEmbedder, breaker in process": provider(in_process),
        }
        if in_redis is not None:
            paths["GeminiEmbedder, breaker state in Redis"] = provider(in_redis)
        try:
            timings = await _interleaved(paths, count)
        finally:
            await session.close()
            await sdk.aio.aclose()
            await in_process.close()
            if in_redis is not None:
                await in_redis.close()
                await _forget_breaker(str(redis_url), namespace)
    rows = [_timing_row(name, *timing) for name, timing in timings.items()]
    base, sdk_row = rows[0], rows[1]
    for row in rows[1:]:
        row["overhead_p50_ms"] = round(row["p50_ms"] - base["p50_ms"], 2)
        row["rate_vs_raw"] = round(row["requests_per_s"] / base["requests_per_s"], 3)
    for row in rows[2:]:
        row["ours_over_sdk_p50_ms"] = round(row["p50_ms"] - sdk_row["p50_ms"], 2)
    return rows


async def _interleaved(paths: dict[str, Any], count: int) -> dict[str, tuple[list[float], float]]:
    """Each path ``count`` times, taking turns request by request (machine drift hits all
    alike); per path its latencies and the sum of them."""
    for call in paths.values():
        for _ in range(3):
            await call()  # warm-up: connections, imports, the breaker's Redis keys
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for i in range(count):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            started = time.perf_counter()
            await paths[name]()
            latencies[name].append(time.perf_counter() - started)
    return {name: (values, sum(values)) for name, values in latencies.items()}


async def _forget_breaker(url: str, namespace: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ----------------------------------------------------------------------------- report


async def run(quick: bool, work: Path) -> dict[str, Any]:
    local, source = await local_rows(quick, work)
    rows = local + await gemini_rows(quick)
    return {
        "figure": "embedding: embedder function chunks/s vs raw encode; Gemini client overhead",
        "baseline": "raw sentence-transformers encode; raw aiohttp POST (Gemini rows)",
        "aim": ">= 0.85x raw chunks/s through the embedder; Gemini overhead p50 reported",
        "texts": source,
        "rows": rows,
    }
