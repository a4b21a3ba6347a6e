"""The owner's "test your bot" (POST /api/bots/{bot}/test): what visitors would get,
with the evidence in words; only for the bot's owner; nothing counted or stored."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.accounts.conftest import bearer
from tests.chat.conftest import guest_token, new_owner
from tests.conftest import Database
from tests.support.gateway import Gateway


async def _messages(pg: Database, bot_id: str) -> int:
    with psycopg.connect(pg.owner_url) as conn:
        row = conn.execute("SELECT count(*) FROM messages WHERE bot_id = %s", (bot_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def test_the_owner_sees_answers_refusals_sources_and_why(
    client: httpx.AsyncClient, demo: dict[str, Any], pg: Database
) -> None:
    before = await _messages(pg, demo["bot_id"])
    response = await client.post(
        f"/api/bots/{demo['bot']}/test",
        headers=bearer(demo["token"]),
        json={"questions": ["Why RabbitMQ instead of Kafka?", "Has he written code in Rust?",
                            "쿠버네티스를 운영해 본 경험이 있나요?"]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    results = response.json()["results"]
    assert results[0]["question"] == "Why RabbitMQ instead of Kafka?"
    answered, rust, korean = results
    assert answered["answerable"] is True
    assert answered["citations"]
    assert "RabbitMQ" in answered["answer"]
    assert answered["why"][0].startswith("Answered")
    assert set(answered["evidence"]) >= {"confidence", "coverage", "legs_agree", "absent_name"}
    assert rust["answerable"] is False
    assert rust["citations"] == []
    assert any("rust" in line for line in rust["why"]), rust["why"]
    assert korean["why"][0].startswith(("답변함", "답변하지 않음"))  # in the question's language
    assert await _messages(pg, demo["bot_id"]) == before  # nothing stored


async def test_only_the_owner_may_test_a_bot(
    gateway: Gateway, client: httpx.AsyncClient, demo: dict[str, Any], chat_env: dict[str, str]
) -> None:
    other = await new_owner(gateway, chat_env)
    body = {"questions": ["Why RabbitMQ?"]}
    response = await client.post(
        f"/api/bots/{demo['bot']}/test", headers=other["headers"], json=body
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "bot_not_found"
    guest = await guest_token(client, demo["bot"])
    response = await client.post(f"/api/bots/{demo['bot']}/test", headers=bearer(guest), json=body)
    assert response.status_code == 404
    response = await client.post(f"/api/bots/{demo['bot']}/test", json=body)
    assert response.status_code == 401


async def test_bad_test_requests_are_400(client: httpx.AsyncClient, demo: dict[str, Any]) -> None:
    url = f"/api/bots/{demo['bot']}/test"
    for body, code in (
        ({}, "bad_questions"),
        ({"questions": []}, "bad_questions"),
        ({"questions": ["q"] * 21}, "bad_questions"),
        ({"questions": "Why?"}, "bad_questions"),
        ({"questions": [""]}, "empty_question"),
        ({"questions": [7]}, "bad_question"),
        ({"questions": ["x" * 2001]}, "question_too_long"),
        ({"questions": ["Why?"], "extra": 1}, "unknown_fields"),
    ):
        response = await client.post(url, headers=bearer(demo["token"]), json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == code, body


async def test_tests_are_limited_per_owner(
    gateway: Gateway, client: httpx.AsyncClient, chat_env: dict[str, str]
) -> None:
    """Each tested question may cost model calls: 30 test requests an hour per owner."""
    from shared.chat.service import TEST_REQUESTS_PER_HOUR

    owner = await new_owner(gateway, chat_env)
    url = f"/api/bots/{owner['bot']}/test"
    body = {"questions": ["Why RabbitMQ?"]}
    for _ in range(TEST_REQUESTS_PER_HOUR):
        response = await client.post(url, headers=owner["headers"], json=body)
        assert response.status_code == 200, response.text
    response = await client.post(url, headers=owner["headers"], json=body)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) > 0
