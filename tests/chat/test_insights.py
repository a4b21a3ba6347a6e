"""GET /api/bots/{bot}/insights: the owner's view of what visitors ask."""

from __future__ import annotations

from typing import Any

from tests.accounts.conftest import bearer, signup
from tests.chat.conftest import corpus_files, ingest, new_client, new_owner
from tests.support.gateway import Gateway


async def test_insights_count_group_and_rate(
    gateway: Gateway, chat_env: dict[str, str], demo: dict[str, Any]
) -> None:
    owner = await new_owner(gateway, chat_env)
    await ingest(owner, corpus_files())
    async with new_client(gateway) as client:
        visitor = await signup(client)
        token = visitor["access_token"]
        asked = []
        for question in (
            "Why RabbitMQ instead of Kafka?",
            "why rabbitmq instead of kafka",
            "Why  RabbitMQ instead of Kafka??",
            "What salary does he expect?",
        ):
            response = await client.post(
                f"/api/bots/{owner['bot']}/ask", headers=bearer(token), json={"question": question}
            )
            assert response.status_code == 200, response.text
            asked.append(response.json())
        await client.post(
            f"/api/messages/{asked[0]['message_id']}/feedback",
            headers=bearer(token),
            json={"rating": "up"},
        )
        await client.post(
            f"/api/messages/{asked[3]['message_id']}/feedback",
            headers=bearer(token),
            json={"rating": "down"},
        )
        response = await client.get(f"/api/bots/{owner['bot']}/insights", headers=owner["headers"])
        assert response.status_code == 200, response.text
        view = response.json()
        assert len(view["days"]) == 30
        assert sum(d["questions"] for d in view["days"][-2:]) == 4  # today (or yesterday)
        assert view["totals"] == {"questions": 4, "unanswered": 1}
        assert view["top_questions"][0]["count"] == 3
        assert view["top_questions"][0]["question"] == "Why RabbitMQ instead of Kafka?"
        assert [u["question"] for u in view["unanswered"]] == ["What salary does he expect?"]
        assert view["feedback"] == {"up": 1, "down": 1, "ratio": 0.5}

        week = await client.get(
            f"/api/bots/{owner['bot']}/insights?days=7", headers=owner["headers"]
        )
        assert len(week.json()["days"]) == 7
        for bad in ("0", "91", "x", "7.0", "%2B7", "%207", "1_0"):
            response = await client.get(
                f"/api/bots/{owner['bot']}/insights?days={bad}", headers=owner["headers"]
            )
            assert response.status_code == 400, bad
            assert response.json()["error"]["code"] == "bad_days"
        # Only the owner: a visitor is refused, another owner's bot is 404.
        response = await client.get(f"/api/bots/{owner['bot']}/insights", headers=bearer(token))
        assert response.status_code == 403
        response = await client.get(f"/api/bots/{demo['bot']}/insights", headers=owner["headers"])
        assert response.status_code == 404
        response = await client.get(f"/api/bots/{owner['bot']}/insights")
        assert response.status_code == 401
