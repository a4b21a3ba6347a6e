"""The embedder function through its real ASGI app (functions-framework), in-process:
the packaged all-MiniLM-L6-v2, unit-length 384-dim vectors, input validation."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from shared.embeddings.model import MAX_CHARS, MAX_TEXTS

ENGLISH = [
    "I ran Kubernetes clusters in production for three years.",
    "She operated Kubernetes in production environments.",
    "My favourite dessert is chocolate cake.",
]
KOREAN = [
    "쿠버네티스 클러스터를 프로덕션에서 3년 동안 운영했습니다.",
    "쿠버네티스를 운영 환경에서 관리했습니다.",
    "오늘 점심으로 김치찌개를 먹었다.",
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def embed(client: httpx.AsyncClient, texts: list[str], task: str = "document") -> Any:
    response = await client.post("/embed", json={"texts": texts, "task": task})
    assert response.status_code == 200, response.text
    return response.json()


async def test_healthz_loads_the_packaged_model(embedder: httpx.AsyncClient) -> None:
    response = await embedder.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["model"] == "all-MiniLM-L6-v2"
    assert body["dimensions"] == 384
    assert body["loaded"] is True
    assert body["device"] == "cpu"
    assert body["threads"] >= 1


async def test_vectors_are_384_dim_unit_length_for_korean_and_english(
    embedder: httpx.AsyncClient,
) -> None:
    body = await embed(embedder, ENGLISH + KOREAN)
    assert body["model"] == "all-MiniLM-L6-v2"
    assert body["dimensions"] == 384
    vectors = body["vectors"]
    assert len(vectors) == 6
    for vector in vectors:
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-4)
    assert len({tuple(v) for v in vectors}) == 6


@pytest.mark.parametrize("texts", [ENGLISH, KOREAN], ids=["english", "korean"])
async def test_similar_sentences_are_closer_than_unrelated_ones(
    embedder: httpx.AsyncClient, texts: list[str]
) -> None:
    anchor, similar, unrelated = (await embed(embedder, texts))["vectors"]
    assert cosine(anchor, similar) > cosine(anchor, unrelated) + 0.2


async def test_a_text_gets_the_same_vector_alone_or_in_a_batch_and_for_queries(
    embedder: httpx.AsyncClient,
) -> None:
    batch = (await embed(embedder, [*ENGLISH, *KOREAN]))["vectors"]
    (alone,) = (await embed(embedder, [KOREAN[1]], task="query"))["vectors"]
    assert alone == pytest.approx(batch[4], abs=1e-5)  # a symmetric model: same space


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_texts"),
        ({"texts": "one string"}, "invalid_texts"),
        ({"texts": []}, "invalid_texts"),
        ({"texts": ["x"] * (MAX_TEXTS + 1)}, "invalid_texts"),
        ({"texts": ["fine", ""]}, "invalid_texts"),
        ({"texts": ["fine", 7]}, "invalid_texts"),
        ({"texts": ["fine", None]}, "invalid_texts"),
        ({"texts": [["nested"]]}, "invalid_texts"),
        ({"texts": ["x" * (MAX_CHARS + 1)]}, "invalid_texts"),
        ({"texts": ["fine"], "task": "classify"}, "invalid_task"),
        ([1, 2], "invalid_json"),
    ],
    ids=[
        "no-texts",
        "not-a-list",
        "empty-list",
        "too-many",
        "empty-text",
        "number",
        "null",
        "nested-list",
        "too-long",
        "bad-task",
        "not-an-object",
    ],
)
async def test_bad_inputs_are_400_with_a_clear_error(
    embedder: httpx.AsyncClient, body: Any, code: str
) -> None:
    response = await embedder.post("/embed", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


async def test_limits_are_inclusive(embedder: httpx.AsyncClient) -> None:
    body = await embed(embedder, ["x" * MAX_CHARS, "y"])
    assert len(body["vectors"]) == 2


async def test_malformed_requests(embedder: httpx.AsyncClient) -> None:
    not_json = await embedder.post(
        "/embed", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "invalid_json"
    wrong_type = await embedder.post("/embed", content=b"texts=a")
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    assert (await embedder.get("/embed")).status_code == 405
    assert (await embedder.post("/nowhere", json={"texts": ["a"]})).status_code == 404
