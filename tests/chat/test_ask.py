"""POST /api/bots/{bot}/ask end to end (in-process functions, real PostgreSQL, Redis,
embedder): JSON and SSE, grounded refusals, bad input, quotas, conversations, feedback."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from tests.accounts.conftest import PASSWORD, bearer, signup
from tests.chat.conftest import guest_token, new_client, parse_sse
from tests.conftest import Database
from tests.support.gateway import Gateway

SSE = {"Accept": "text/event-stream"}


async def ask(
    client: httpx.AsyncClient, bot: str, token: str, question: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/bots/{bot}/ask", headers=bearer(token), json={"question": question, **body}
    )


async def test_a_json_answer_is_grounded_and_cited(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    response = await ask(
        client,
        demo["bot"],
        demo["token"],
        "Why RabbitMQ instead of Kafka?",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "answer",
        "citations",
        "answerable",
        "conversation_id",
        "message_id",
        "quota",
    }
    assert body["answerable"] is True
    assert "RabbitMQ" in body["answer"]
    assert body["citations"], body
    for citation in body["citations"]:
        assert set(citation) == {"document_id", "title", "section", "snippet"}
        assert citation["document_id"] in demo["documents"]
        assert citation["snippet"]
    assert body["quota"] == {
        "limit": None,
        "remaining": None,
        "reset_at": None,
        "scope": "unlimited",
    }
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])})
    # [n] is the n-th source; the sources also list the other passages above the floor.
    assert markers
    assert set(markers) <= set(range(1, len(body["citations"]) + 1))
    assert response.headers["cache-control"] == "no-store"


async def test_korean_questions_get_korean_answers(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    body = (
        await ask(client, demo["bot"], demo["token"], "Kafka 대신 RabbitMQ를 고른 이유가 뭔가요?")
    ).json()
    assert body["answerable"] is True, body
    assert any("\uac00" <= ch <= "\ud7a3" for ch in body["answer"])


async def test_sse_sends_tokens_then_citations_then_done(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    response = await client.post(
        f"/api/bots/{demo['bot']}/ask",
        headers={**bearer(demo["token"]), **SSE},
        json={"question": "What did he do at Orbit Commerce?"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "token"
    assert names[-2:] == ["citations", "done"]
    assert set(names[:-2]) == {"token"}
    answer = "".join(data["text"] for name, data in events if name == "token")
    assert answer.strip()
    done = events[-1][1]
    assert set(done) == {"answerable", "conversation_id", "message_id", "quota"}
    assert done["answerable"] is True
    assert events[-2][1], "an answerable question is cited"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What salary does he expect?", "documents don't cover"),
        ("연봉은 얼마를 원하시나요?", "찾을 수 없습니다"),
    ],
)
async def test_questions_the_documents_cannot_answer_are_refused_in_their_language(
    client: httpx.AsyncClient, demo: dict[str, Any], question: str, expected: str
) -> None:
    body = (await ask(client, demo["bot"], demo["token"], question)).json()
    assert body["answerable"] is False, body
    assert expected in body["answer"]
    assert body["citations"] == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"question": ""}, "empty_question"),
        ({"question": " \n\t "}, "empty_question"),
        ({"question": "x" * 2001}, "question_too_long"),
        ({"question": 42}, "bad_question"),
        ({}, "bad_question"),
        ({"question": "hi", "conversation_id": "nope"}, "bad_conversation_id"),
        ({"question": "hi", "conversation_id": 7}, "bad_conversation_id"),
        (
            {"question": "hi", "conversation_id": "12345678-1234-1234-1234-123456789abc\n"},
            "bad_conversation_id",
        ),
        ({"question": "hi", "extra": 1}, "unknown_fields"),
    ],
)
async def test_bad_questions_are_400(
    client: httpx.AsyncClient, demo: dict[str, Any], payload: dict[str, Any], code: str
) -> None:
    response = await client.post(
        f"/api/bots/{demo['bot']}/ask", headers=bearer(demo["token"]), json=payload
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


async def test_a_question_of_exactly_2000_characters_is_accepted(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    response = await ask(client, demo["bot"], demo["token"], ("RabbitMQ " * 250)[:2000])
    assert response.status_code == 200, response.text


async def test_unknown_bot_is_404_and_no_token_is_401(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    response = await ask(client, "no-such-bot-here", demo["token"], "hello?")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "bot_not_found"
    response = await client.post(f"/api/bots/{demo['bot']}/ask", json={"question": "hello?"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = await ask(client, demo["bot"], "not.a.token", "hello?")
    assert response.status_code == 401


async def test_a_guest_identity_only_asks_its_own_bot(
    client: httpx.AsyncClient, demo: dict[str, Any]
) -> None:
    token = await guest_token(client, "some-other-bot")
    response = await ask(client, demo["bot"], token, "Where did he study?")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_bot"


async def test_a_guest_has_three_questions_then_a_429_with_the_signup_hint(
    gateway: Gateway, demo: dict[str, Any], pg: Database
) -> None:
    started = datetime.now(UTC)
    async with new_client(gateway) as client:
        token = await guest_token(client, demo["bot"])
        seen = []
        for _ in range(3):
            response = await ask(client, demo["bot"], token, "Where did he study?")
            assert response.status_code == 200, response.text
            seen.append(response.json()["quota"]["remaining"])
            assert response.headers["ratelimit-remaining"] == str(seen[-1])
        assert seen == [2, 1, 0]  # exactly one unit per question
        response = await ask(client, demo["bot"], token, "Where did he study?")
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == "quota_exceeded"
        assert error["signup_hint"]
        assert error["remaining"] == 0
        again = await ask(client, demo["bot"], token, "Where did he study?")
        assert again.status_code == 429
    # Audit hears of it once per window, not once per refused request.
    with psycopg.connect(pg.owner_url) as conn:
        rows = conn.execute(
            "SELECT data FROM outbox WHERE type = 'dev.protostar.quota.exhausted' "
            "AND data->>'bot_id' = %s AND data->>'role' = 'guest' AND created_at > %s",
            (demo["bot_id"], started),
        ).fetchall()
    assert [r[0] for r in rows] == [{"bot_id": demo["bot_id"], "role": "guest", "scope": "guest"}]


async def test_a_stargazer_has_a_daily_window(gateway: Gateway, demo: dict[str, Any]) -> None:
    async with new_client(gateway) as client:
        user = await signup(client)
        response = await ask(client, demo["bot"], user["access_token"], "Where did he study?")
        assert response.status_code == 200, response.text
        quota = response.json()["quota"]
        assert quota["scope"] == "daily"
        assert quota["limit"] == 10
        assert quota["remaining"] == 9
        assert quota["reset_at"].endswith("+09:00")


async def test_conversations_continue_and_are_visible_to_their_asker_only(
    gateway: Gateway, demo: dict[str, Any]
) -> None:
    async with new_client(gateway) as client:
        user = await signup(client)
        token = user["access_token"]
        first = (await ask(client, demo["bot"], token, "What did he build with R2DBC?")).json()
        conversation = first["conversation_id"]
        second = await ask(
            client, demo["bot"], token, "How long did that take?", conversation_id=conversation
        )
        assert second.status_code == 200, second.text
        assert second.json()["conversation_id"] == conversation

        listed = (await client.get("/api/conversations", headers=bearer(token))).json()
        assert [c["id"] for c in listed["conversations"]] == [conversation]
        assert listed["conversations"][0]["bot"] == demo["bot"]
        assert listed["conversations"][0]["message_count"] == 2
        view = (
            await client.get(f"/api/conversations/{conversation}", headers=bearer(token))
        ).json()
        assert [m["question"] for m in view["messages"]] == [
            "What did he build with R2DBC?",
            "How long did that take?",
        ]
        assert view["messages"][0]["citations"] == first["citations"]

        # The bot's owner sees it too (read-only), without who asked.
        owned = await client.get(f"/api/conversations?bot={demo['bot']}", headers=demo["headers"])
        mine = [c for c in owned.json()["conversations"] if c["id"] == conversation]
        assert mine == [{**mine[0], "asker_kind": "user", "message_count": 2}]
        seen = await client.get(f"/api/conversations/{conversation}", headers=demo["headers"])
        assert seen.json()["view"] == "owner"
        assert view["view"] == "asker"
        response = await client.get(f"/api/conversations?bot={demo['bot']}", headers=bearer(token))
        assert response.status_code == 404  # not the owner

        stranger = await signup(client)
        for path in (f"/api/conversations/{conversation}",):
            response = await client.get(path, headers=bearer(stranger["access_token"]))
            assert response.status_code == 404
        listed = await client.get("/api/conversations", headers=bearer(stranger["access_token"]))
        assert listed.json()["conversations"] == []
        # Nor can a stranger continue it.
        response = await ask(
            client, demo["bot"], stranger["access_token"], "and then?", conversation_id=conversation
        )
        assert response.status_code == 404


async def test_feedback_by_the_asker_only_and_updatable(
    gateway: Gateway, demo: dict[str, Any], pg: Database
) -> None:
    async with new_client(gateway) as client:
        user = await signup(client)
        token = user["access_token"]
        answer = (await ask(client, demo["bot"], token, "Where did he study?")).json()
        path = f"/api/messages/{answer['message_id']}/feedback"
        response = await client.post(path, headers=bearer(token), json={"rating": "up"})
        assert response.status_code == 200, response.text
        response = await client.post(
            path, headers=bearer(token), json={"rating": "down", "comment": "too short"}
        )
        assert response.status_code == 200
        assert response.json()["rating"] == "down"
        for bad, code in (
            ({"rating": "meh"}, "bad_rating"),
            ({"rating": "up", "comment": "x" * 1001}, "comment_too_long"),
            ({"rating": "up", "comment": 5}, "bad_comment"),
        ):
            response = await client.post(path, headers=bearer(token), json=bad)
            assert response.status_code == 400, bad
            assert response.json()["error"]["code"] == code
        response = await client.post(
            path, headers=bearer(token), json={"rating": "up", "comment": "x" * 1000}
        )
        assert response.status_code == 200
        stranger = await signup(client)
        response = await client.post(
            path, headers=bearer(stranger["access_token"]), json={"rating": "down"}
        )
        assert response.status_code == 404
        view = (
            await client.get(
                f"/api/conversations/{answer['conversation_id']}", headers=bearer(token)
            )
        ).json()
        assert view["messages"][0]["feedback"] == {"rating": "up", "comment": "x" * 1000}
    with psycopg.connect(pg.owner_url) as conn:
        conn.execute("SELECT set_config('app.user_id', %s, false)", (demo["user_id"],))
        rows = conn.execute(
            "SELECT rating FROM feedback WHERE message_id = %s", (answer["message_id"],)
        ).fetchall()
    assert rows == [("up",)]


async def test_each_turn_is_stored_with_provider_and_latency_and_an_event(
    client: httpx.AsyncClient, demo: dict[str, Any], pg: Database
) -> None:
    body = (await ask(client, demo["bot"], demo["token"], "Which university did he attend?")).json()
    with psycopg.connect(pg.owner_url) as conn:
        conn.execute("SELECT set_config('app.user_id', %s, false)", (demo["user_id"],))
        row = conn.execute(
            "SELECT question, answer, provider, latency_ms, answerable, "
            "jsonb_array_length(citations) FROM messages WHERE id = %s",
            (body["message_id"],),
        ).fetchone()
        event = conn.execute(
            "SELECT data FROM outbox WHERE type = 'dev.protostar.question.asked' "
            "AND data->>'message_id' = %s",
            (body["message_id"],),
        ).fetchone()
    assert row is not None
    assert row[0] == "Which university did he attend?"
    assert row[1] == body["answer"]
    assert row[2] == "extractive"
    assert row[3] >= 0
    assert row[4] is True
    assert row[5] == len(body["citations"])
    assert event is not None
    assert set(event[0]) == {"bot_id", "message_id", "language", "answerable", "top_score"}
    assert event[0]["language"] == "en"


async def test_a_users_export_holds_their_questions_and_deletion_removes_them(
    gateway: Gateway, demo: dict[str, Any], pg: Database
) -> None:
    async with new_client(gateway) as client:
        user = await signup(client)
        token = user["access_token"]
        answer = (await ask(client, demo["bot"], token, "Why RabbitMQ instead of Kafka?")).json()
        await client.post(
            f"/api/messages/{answer['message_id']}/feedback",
            headers=bearer(token),
            json={"rating": "up", "comment": "clear"},
        )
        exported = (await client.get("/api/users/me/export", headers=bearer(token))).json()
        [question] = exported["questions"]
        assert question["question"] == "Why RabbitMQ instead of Kafka?"
        assert question["answer"] == answer["answer"]
        assert (question["rating"], question["comment"]) == ("up", "clear")
        response = await client.request(
            "DELETE", "/api/users/me", headers=bearer(token), json={"current_password": PASSWORD}
        )
        assert response.status_code == 204
    with psycopg.connect(pg.superuser_url) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM conversations WHERE asker = %s), "
            "(SELECT count(*) FROM messages WHERE id = %s)",
            (f"user:{user['user']['id']}", answer["message_id"]),
        ).fetchone()
    assert left == (0, 0)
