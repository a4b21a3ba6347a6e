"""GeminiEmbedder: the REAL google-genai client against the local fake Gemini server.

Batching, task types, 768 dimensions at unit length, retries on 429, the circuit
breaker (its state shared through Redis between processes) and the API key kept out
of every log line and error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from localplatform.embedded.procs import free_port
from shared.embeddings.gemini import GeminiEmbedder
from shared.errors import BadRequest, ServiceUnavailable
from tests.embeddings.conftest import API_KEY
from tests.embeddings.fake_gemini import FakeGemini

PATH = "/v1beta/models/gemini-embedding-001:batchEmbedContents"


def texts(n: int, prefix: str = "chunk") -> list[str]:
    return [f"{prefix} {i}: built an event-driven system with RabbitMQ" for i in range(n)]


def make(url: str, **kwargs: object) -> GeminiEmbedder:
    options: dict[str, object] = {
        "api_key": API_KEY,
        "base_url": url,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        **kwargs,
    }
    return GeminiEmbedder(**options)  # type: ignore[arg-type]


@pytest.fixture
async def embedder(gemini: tuple[FakeGemini, str]) -> AsyncIterator[GeminiEmbedder]:
    provider = make(gemini[1])
    yield provider
    await provider.close()


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


async def test_250_texts_are_three_batches_of_768_unit_vectors_in_order(
    gemini: tuple[FakeGemini, str], embedder: GeminiEmbedder
) -> None:
    fake, _ = gemini
    docs = texts(250)
    vectors = await embedder.embed(docs, task="document")

    assert embedder.name == "gemini:gemini-embedding-001@768"
    assert embedder.dimensions == 768
    assert [s.path for s in fake.seen] == [PATH] * 3
    assert [len(s.texts) for s in fake.seen] == [100, 100, 50]
    assert [t for s in fake.seen for t in s.texts] == docs
    assert {t for s in fake.seen for t in s.task_types} == {"RETRIEVAL_DOCUMENT"}
    assert {d for s in fake.seen for d in s.dimensions} == {768}
    assert {s.key for s in fake.seen} == {API_KEY}  # sent in x-goog-api-key
    assert len(vectors) == 250
    for text, vector in zip(docs, vectors, strict=True):
        assert len(vector) == 768
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-9)
        assert vector == pytest.approx(unit(fake.vector(text, 768)))


async def test_queries_use_retrieval_query_and_empty_input_sends_nothing(
    gemini: tuple[FakeGemini, str], embedder: GeminiEmbedder
) -> None:
    fake, _ = gemini
    assert await embedder.embed([], task="query") == []
    assert fake.seen == []
    (vector,) = await embedder.embed(["쿠버네티스를 프로덕션에서 운영했나요?"], task="query")
    assert len(vector) == 768
    assert fake.seen[0].task_types == ["RETRIEVAL_QUERY"]


async def test_a_429_is_retried_then_succeeds(
    gemini: tuple[FakeGemini, str], embedder: GeminiEmbedder
) -> None:
    fake, _ = gemini
    fake.fail_next([429])
    fake.retry_delay = "0.02s"  # google.rpc.RetryInfo, honoured up to backoff_max
    vectors = await embedder.embed(texts(3))
    assert [s.status for s in fake.seen] == [429, 200]
    assert [len(s.texts) for s in fake.seen] == [3, 3]
    assert len(vectors) == 3


async def test_5xx_is_retried_then_a_clear_error_when_attempts_run_out(
    gemini: tuple[FakeGemini, str],
) -> None:
    fake, url = gemini
    provider = make(url, attempts=3, breaker_fail_max=100)
    fake.fail_always(503)
    with pytest.raises(ServiceUnavailable) as caught:
        await provider.embed(texts(2))
    assert caught.value.code == "gemini_unavailable"
    assert "503" in caught.value.message
    assert len(fake.seen) == 3
    await provider.close()


async def test_a_rejected_request_is_not_retried(gemini: tuple[FakeGemini, str]) -> None:
    fake, url = gemini
    provider = GeminiEmbedder(api_key="AIza-wrong-key", base_url=url, backoff_initial=0.01)
    with pytest.raises(ServiceUnavailable) as caught:
        await provider.embed(texts(1))
    assert caught.value.code == "gemini_rejected"
    assert "API key not valid" in caught.value.message
    assert "AIza-wrong-key" not in str(caught.value)
    assert len(fake.seen) == 1
    await provider.close()


async def test_bad_texts_are_refused_before_any_request(
    gemini: tuple[FakeGemini, str], embedder: GeminiEmbedder
) -> None:
    fake, _ = gemini
    with pytest.raises(BadRequest):
        await embedder.embed(["fine", ""])
    with pytest.raises(BadRequest):
        await embedder.embed(["fine", 3])  # type: ignore[list-item]
    assert fake.seen == []


@pytest.fixture
def breaker_namespace(external_redis_url: str) -> AsyncIterator[str]:
    namespace = f"test:breaker:{uuid.uuid4().hex[:8]}"
    yield namespace  # type: ignore[misc]
    client = redis.Redis.from_url(external_redis_url)
    keys = list(client.scan_iter(f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


async def test_500s_open_the_breaker_shared_through_redis_then_calls_fail_fast(
    gemini: tuple[FakeGemini, str], external_redis_url: str, breaker_namespace: str
) -> None:
    fake, url = gemini
    options = {
        "redis_url": external_redis_url,
        "breaker_namespace": breaker_namespace,
        "attempts": 2,
        "breaker_fail_max": 3,
        "breaker_reset_timeout": 1.0,
    }
    one, other = make(url, **options), make(url, **options)  # two functions' processes
    fake.fail_always(500)

    with pytest.raises(ServiceUnavailable) as first:
        await one.embed(texts(2))  # two attempts, two failures
    assert first.value.code == "gemini_unavailable"
    assert len(fake.seen) == 2
    with pytest.raises(ServiceUnavailable) as tripped:
        await one.embed(texts(2))  # the third consecutive failure opens the circuit
    assert tripped.value.code == "gemini_circuit_open"
    assert len(fake.seen) == 3

    state = redis.Redis.from_url(external_redis_url)
    assert state.get(f"{breaker_namespace}:pybreaker:state") == b"open"

    # Open: both this process and another one fail fast, without a request.
    for provider in (one, other, one):
        with pytest.raises(ServiceUnavailable) as fast:
            await provider.embed(texts(2))
        assert fast.value.code == "gemini_circuit_open"
        assert fast.value.headers["Retry-After"] == "1"
    assert len(fake.seen) == 3

    # After reset_timeout one trial call goes through; Gemini is back: closed again.
    fake.fail_always(None)
    await asyncio.sleep(1.1)
    assert len(await other.embed(texts(2))) == 2
    assert len(fake.seen) == 4
    assert state.get(f"{breaker_namespace}:pybreaker:state") == b"closed"
    assert len(await one.embed(texts(2))) == 2
    state.close()
    await one.close()
    await other.close()


async def test_4xx_answers_do_not_open_the_breaker(gemini: tuple[FakeGemini, str]) -> None:
    fake, url = gemini
    provider = make(url, breaker_fail_max=2)  # no Redis: the breaker lives in the process
    fake.fail_next([400, 400, 400])
    for _ in range(3):
        with pytest.raises(ServiceUnavailable) as caught:
            await provider.embed(texts(1))
        assert caught.value.code == "gemini_rejected"
    assert len(await provider.embed(texts(1))) == 1
    assert len(fake.seen) == 4
    await provider.close()


async def test_nothing_listening_is_unavailable_not_a_hang() -> None:
    provider = make(f"http://127.0.0.1:{free_port()}", attempts=2, timeout=5)
    with pytest.raises(ServiceUnavailable) as caught:
        await provider.embed(texts(1))
    assert caught.value.code == "gemini_unavailable"
    await provider.close()


async def test_the_api_key_never_appears_in_logs_errors_or_repr(
    gemini: tuple[FakeGemini, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fake, url = gemini
    caplog.set_level(logging.DEBUG)
    provider = make(url, attempts=2, breaker_fail_max=3)
    errors: list[str] = []
    fake.fail_next([429])
    await provider.embed(texts(2))  # a retry: logged
    fake.fail_always(500)
    for _ in range(3):  # failures, then the breaker opens: logged
        try:
            await provider.embed(texts(2))
        except ServiceUnavailable as exc:
            errors.append(f"{exc} {exc.to_body()} {exc.__cause__!r} {exc.__context__!r}")
    fake.fail_always(None)
    out, err = capfd.readouterr()

    assert "retrying" in caplog.text
    assert "circuit breaker changed state" in caplog.text
    assert any("circuit breaker is open" in e for e in errors)
    for text in (caplog.text, out, err, repr(provider), *errors):
        assert API_KEY not in text
    await provider.close()
