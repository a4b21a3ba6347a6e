"""POST /api/talent/search and the saved searches, through the real routes."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import psycopg

from shared.db.unit import scope
from tests.accounts.conftest import bearer
from tests.conftest import Database
from tests.talent.conftest import CANARY, slugs

SEARCH = "/api/talent/search"


async def _search(client: httpx.AsyncClient, hr: dict[str, str], **body: Any) -> dict[str, Any]:
    reply = await client.post(SEARCH, json=body, headers=hr)
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()
    return data


def _ours(reply: dict[str, Any], people: dict[str, dict[str, Any]]) -> list[str]:
    """The results that are this module's people (other tests' bots may be discoverable)."""
    mine = {p["bot"]: key for key, p in people.items()}
    return [mine[s] for s in slugs(reply) if s in mine]


async def test_a_sentence_finds_the_people_who_fit_with_evidence_per_criterion(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    reply = await _search(
        client, hr, query="Java backend developer with Spring Boot and Hibernate, 3+ years"
    )
    kinds = {c["text"]: (c["kind"], c["type"]) for c in reply["criteria"]}
    assert kinds["Java backend developer"] == ("must", "role")
    assert kinds["3+ years"] == ("must", "experience")
    found = _ours(reply, people)
    assert found[0] == "java", found
    top = reply["results"][0]
    assert top["name"] == "Java Person"
    assert top["ask_url"].endswith(f"/b/{top['bot']}?q=Java%20backend%20developer%20with%20Spring"
                                   "%20Boot%20and%20Hibernate%2C%203%2B%20years"
                                   "&via=talent")  # fmt: skip
    verdicts = {f["id"]: f for f in top["criteria"]}
    for criterion in reply["criteria"]:
        finding = verdicts[criterion["id"]]
        assert finding["verdict"] == "met", (criterion, finding)
        assert finding["evidence"], criterion
    years = next(c for c in reply["criteria"] if c["type"] == "experience")
    assert "6 years of experience" in verdicts[years["id"]]["evidence"][0]["snippet"]
    counts = reply["counts"]
    assert counts["shown"] == len(reply["results"])
    assert counts["shown"] <= counts["matched"] <= counts["people_searched"]


async def test_evidence_comes_from_the_persons_own_documents(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    by_slug = {p["bot"]: p for p in people.values()}
    for query in ("machine learning in Python", "recruitment and payroll", "Kafka on AWS"):
        reply = await _search(client, hr, query=query)
        for result in reply["results"]:
            person = by_slug.get(result["bot"])
            if person is None:
                continue
            text = re.sub(r"\s+", " ", person["text"])
            for finding in result["criteria"]:
                for evidence in finding["evidence"]:
                    assert evidence["document_id"] in person["documents"]
                    piece = evidence["snippet"].strip("…")
                    assert piece in text, (piece, result["bot"])


async def test_korean_queries_find_english_documents_and_the_reverse(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    reply = await _search(client, hr, query="급여와 채용 경험이 있는 인사 담당자")
    assert _ours(reply, people)[0] == "hr"
    reply = await _search(client, hr, query="머신러닝과 자연어 처리를 하는 데이터 과학자")
    assert _ours(reply, people)[0] == "data"
    reply = await _search(client, hr, query="Java developer who knows Spring and Kubernetes")
    assert "korean" in _ours(reply, people)[:2]


async def test_a_person_who_is_not_discoverable_never_appears(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    canary = people["canary"]
    queries = [
        CANARY,
        f"{CANARY} specialist",
        "Canary Hidden",
        "Java developer with Spring Boot and Hibernate",
        "machine learning Python",
        "HR recruitment and payroll",
        "인사 담당자",
        "자바 개발자",
    ]
    for query in queries:
        reply = await _search(client, hr, query=query, limit=50)
        assert canary["bot"] not in slugs(reply), query
        rest = str(reply).replace(query, "")
        assert CANARY not in rest, query
        assert "Canary Hidden" not in rest, query
    alone = await _search(client, hr, query=CANARY)
    assert alone["counts"]["matched"] == 0
    assert alone["results"] == []


async def test_turning_discoverable_off_removes_the_person_from_the_next_search(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    data = people["data"]
    query = "data scientist with machine learning and natural language processing"
    assert data["bot"] in slugs(await _search(client, hr, query=query))
    before = (await _search(client, hr, query=query))["counts"]["people_searched"]
    path = f"/api/bots/{data['bot']}"
    try:
        off = await client.patch(path, json={"discoverable": False}, headers=data["headers"])
        assert off.status_code == 200, off.text
        reply = await _search(client, hr, query=query)
        assert data["bot"] not in slugs(reply)
        assert reply["counts"]["people_searched"] == before - 1
    finally:
        on = await client.patch(path, json={"discoverable": True}, headers=data["headers"])
        assert on.status_code == 200, on.text
    assert data["bot"] in slugs(await _search(client, hr, query=query))


async def test_the_same_query_over_the_same_data_ranks_the_same(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    query = "backend developer, Kafka and Docker a plus, no Android"
    first = await _search(client, hr, query=query)
    for _ in range(3):
        again = await _search(client, hr, query=query)
        assert [(r["bot"], r["score"]) for r in again["results"]] == [
            (r["bot"], r["score"]) for r in first["results"]
        ]
        assert again["criteria"] == first["criteria"]


async def test_edited_and_disabled_criteria_change_the_search(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    query = "HR generalist with payroll"
    first = await _search(client, hr, query=query)
    assert _ours(first, people)[0] == "hr"
    edited = [{**c, "enabled": False} if c["type"] == "role" else c for c in first["criteria"]] + [
        {"text": "TensorFlow", "kind": "must"}
    ]
    for c in edited:
        c.pop("too_wide", None)
        c.pop("min_years", None)
    again = await _search(client, hr, query=query, criteria=edited)
    ids = [c["id"] for c in again["criteria"]]
    assert len(set(ids)) == len(ids)
    assert [c["enabled"] for c in again["criteria"]].count(False) == 1
    added = next(c for c in again["criteria"] if c["text"] == "TensorFlow")
    assert added["type"] == "skill"
    for result in again["results"]:
        assert {f["id"] for f in result["criteria"]} == {
            c["id"] for c in again["criteria"] if c["enabled"]
        }
    assert "data" in _ours(again, people)


async def test_searches_are_saved_for_their_user_only(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    made = await _search(client, hr, query="Python machine learning")
    listed = await client.get("/api/talent/searches", headers=hr)
    assert listed.status_code == 200
    assert listed.json()["searches"][0]["id"] == made["id"]
    one = await client.get(f"/api/talent/searches/{made['id']}", headers=hr)
    assert one.status_code == 200
    assert one.json()["criteria"] == made["criteria"]
    assert one.json()["counts"] == made["counts"]
    other = people["java"]["headers"]
    theirs = await client.get(f"/api/talent/searches/{made['id']}", headers=other)
    assert theirs.status_code == 404
    assert made["id"] not in str((await client.get("/api/talent/searches", headers=other)).json())
    assert (await client.get("/api/talent/searches/not-a-uuid", headers=hr)).status_code == 404


async def test_appearances_are_recorded_for_the_owners_insights(
    client: httpx.AsyncClient,
    hr: dict[str, str],
    people: dict[str, dict[str, Any]],
    pg: Database,
) -> None:
    made = await _search(client, hr, query="HR generalist with recruitment")
    hr_person = people["hr"]
    async with await psycopg.AsyncConnection.connect(pg.app_url) as conn, conn.transaction():
        await scope(conn, user=hr_person["user_id"])
        cur = await conn.execute(
            "SELECT rank, criteria FROM talent_appearances WHERE search_id = %s", (made["id"],)
        )
        rows = await cur.fetchall()
    assert len(rows) == 1  # the owner sees their own appearance, nobody else's
    rank, criteria = rows[0]
    assert rank == slugs(made).index(hr_person["bot"]) + 1
    assert {c["text"] for c in criteria} == {c["text"] for c in made["criteria"]}


async def test_only_signed_up_users_search(
    client: httpx.AsyncClient, people: dict[str, dict[str, Any]]
) -> None:
    anonymous = await client.post(SEARCH, json={"query": "Java"})
    assert anonymous.status_code == 401
    guest = await client.post("/api/auth/guest", json={"bot": people["java"]["bot"]})
    assert guest.status_code in (200, 201), guest.text
    token = guest.json()["access_token"]
    as_guest = await client.post(SEARCH, json={"query": "Java"}, headers=bearer(token))
    assert as_guest.status_code in (401, 403), as_guest.text
    assert (await client.get("/api/talent/searches")).status_code == 401


async def test_bad_requests_are_refused_with_their_field(
    client: httpx.AsyncClient, hr: dict[str, str]
) -> None:
    cases = [
        ({"query": "   "}, "empty_query"),
        ({"query": "x" * 501}, "query_too_long"),
        ({"query": "Java", "limit": 0}, "bad_limit"),
        ({"query": "Java", "limit": 51}, "bad_limit"),
        ({"query": "Java", "limit": "5"}, "bad_limit"),
        ({"query": "Java", "extra": 1}, "unknown_fields"),
        ({"query": "Java", "criteria": [{"text": ""}]}, "empty_criterion"),
        ({"query": "Java", "criteria": [{"text": "x", "kind": "maybe"}]}, "bad_criterion"),
        ({"query": "Java", "criteria": [{"text": "x"}] * 13}, "bad_criteria"),
        ({"query": "Java", "criteria": [{"id": "zz", "text": "x"}]}, "bad_criterion_id"),
        ({}, "bad_query"),
    ]
    for body, code in cases:
        reply = await client.post(SEARCH, json=body, headers=hr)
        assert reply.status_code == 400, (body, reply.text)
        assert reply.json()["error"]["code"] == code, (body, reply.text)
    listed = await client.get("/api/talent/searches", headers=hr)
    assert listed.json()["searches"] == []  # nothing half-stored


async def test_the_daily_quota_ends_in_429_with_retry_after(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    from shared.settings import get_settings

    limit = get_settings().quota_talent_stargazer_daily
    for n in range(limit):
        reply = await client.post(SEARCH, json={"query": "HR"}, headers=hr)
        assert reply.status_code == 201, (n, reply.text)
        assert reply.headers["RateLimit-Remaining"] == str(limit - n - 1)
    refused = await client.post(SEARCH, json={"query": "HR"}, headers=hr)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "talent_quota_exceeded"
    assert int(refused.headers["Retry-After"]) > 0
    listed = await client.get("/api/talent/searches?limit=100", headers=hr)
    assert len(listed.json()["searches"]) == limit


async def test_the_account_export_holds_ones_searches_and_ones_appearances(
    client: httpx.AsyncClient, hr: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    owner = people["hr"]

    async def export(headers: dict[str, str]) -> dict[str, Any]:
        reply = await client.get("/api/users/me/export", headers=headers)
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    before = len((await export(owner["headers"]))["talent_appearances"])
    made = await _search(client, hr, query="HR generalist with payroll")
    assert owner["bot"] in slugs(made)
    mine = await export(hr)
    [search] = [s for s in mine["talent_searches"] if s["id"] == made["id"]]
    assert search["query"] == "HR generalist with payroll"
    assert search["counts"] == made["counts"]
    assert mine["talent_appearances"] == []  # an HR user owns no bot
    theirs = await export(owner["headers"])
    assert len(theirs["talent_appearances"]) == before + 1
    assert {a["bot"] for a in theirs["talent_appearances"]} == {owner["bot"]}
    assert theirs["talent_searches"] == []
    assert made["id"] not in json.dumps(theirs)  # nothing says which search, or whose
