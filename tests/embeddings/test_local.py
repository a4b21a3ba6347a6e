"""LocalEmbedder against the embedder function served over real HTTP (uvicorn)."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from localplatform.embedded.procs import free_port
from shared.embeddings.local import LocalEmbedder
from shared.errors import BadRequest, ServiceUnavailable, SettingsError
from tests.embeddings.conftest import Counting
from tests.embeddings.fake_gemini import serve


def chunks(n: int) -> list[str]:
    topics = ["Kubernetes", "RabbitMQ", "PostgreSQL", "이벤트 기반 설계", "팀 리딩"]
    return [f"Chunk {i}: {topics[i % 5]} experience, year {2015 + i % 9}." for i in range(n)]


async def test_batches_of_64_over_http_keep_order(
    embedder_url: str, embedder_app: Counting
) -> None:
    provider = LocalEmbedder(embedder_url)
    assert provider.name == "local:all-MiniLM-L6-v2"
    assert provider.dimensions == 384
    texts = chunks(150)
    embedder_app.paths.clear()
    vectors = await provider.embed(texts, task="document")
    assert embedder_app.paths == ["/embed"] * 3  # 64 + 64 + 22
    assert len(vectors) == 150
    for vector in vectors:
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-4)
    # Order: each vector is the one the text gets on its own.
    again = await provider.embed([texts[149], texts[0], texts[70]], task="query")
    assert again[0] == pytest.approx(vectors[149], abs=1e-5)
    assert again[1] == pytest.approx(vectors[0], abs=1e-5)
    assert again[2] == pytest.approx(vectors[70], abs=1e-5)
    assert await provider.embed([]) == []
    await provider.close()


async def test_a_text_the_service_refuses_is_a_bad_request(embedder_url: str) -> None:
    provider = LocalEmbedder(embedder_url)
    with pytest.raises(BadRequest) as caught:
        await provider.embed(["fine", "x" * 8001])
    assert caught.value.code == "embedding_rejected"
    assert "8001 characters" in caught.value.message
    await provider.close()


async def test_nothing_listening_is_service_unavailable_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    provider = LocalEmbedder(url, attempts=3, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        await provider.embed(["hello"])
    assert caught.value.code == "embedder_unavailable"
    assert url in caught.value.message
    assert time.monotonic() - started < 5
    await provider.close()


async def test_no_embedder_url_is_service_unavailable() -> None:
    with pytest.raises(ServiceUnavailable) as caught:
        await LocalEmbedder(None).embed(["hello"])
    assert "EMBEDDER_URL" in caught.value.message


def test_unknown_model_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="LOCAL_EMBEDDING_MODEL"):
        LocalEmbedder("http://127.0.0.1:1", model="bge-m3")


def stub_service(body: dict[str, Any]) -> Starlette:
    async def embed(request: Request) -> JSONResponse:
        return JSONResponse(body)

    return Starlette(routes=[Route("/embed", embed, methods=["POST"])])


def answer(model: str, dims: int, vectors: list[list[float]]) -> dict[str, Any]:
    return {"model": model, "dimensions": dims, "vectors": vectors}


MINI = "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (answer("other-model", 384, [[0.0] * 384]), "embedding_model_mismatch"),
        (answer(MINI, 768, [[0.0] * 768]), "embedding_model_mismatch"),
        (answer(MINI, 384, []), "embedder_unavailable"),
        (answer(MINI, 384, [[0.0] * 3]), "embedder_unavailable"),
    ],
    ids=["other-model", "other-size", "missing-vector", "short-vector"],
)
async def test_vectors_of_another_model_or_shape_are_refused(
    answer: dict[str, Any], code: str
) -> None:
    async with serve(stub_service(answer), free_port()) as url:
        provider = LocalEmbedder(url)
        with pytest.raises(ServiceUnavailable) as caught:
            await provider.embed(["hello"])
        assert caught.value.code == code
        await provider.close()


async def test_a_503_is_retried_then_reported() -> None:
    calls = 0

    async def embed(request: Request) -> JSONResponse:
        nonlocal calls
        calls += 1
        return JSONResponse({"error": {"code": "unavailable", "message": "x"}}, status_code=503)

    app = Starlette(routes=[Route("/embed", embed, methods=["POST"])])
    async with serve(app, free_port()) as url:
        provider = LocalEmbedder(url, attempts=3, backoff=0.01)
        with pytest.raises(ServiceUnavailable) as caught:
            await provider.embed(["hello"])
        assert caught.value.code == "embedder_unavailable"
        assert "HTTP 503" in caught.value.message
        assert calls == 3
        await provider.close()
