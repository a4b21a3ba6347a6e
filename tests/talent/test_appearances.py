"""The appearances section of the owner's insights (issue #18, 4): how often the bot was
shown by talent searches made through POST /api/talent/search, for which criteria with
what verdicts, and how often someone then asked it from the search's "ask this person"
link (`via=talent`, stored on the question). Aggregates only: nothing names a searcher.
"""

from __future__ import annotations

import statistics
import typing
import uuid
from collections import Counter, defaultdict
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from shared.db.unit import scope
from shared.talent import appearances, contracts
from tests.accounts.conftest import bearer, signup
from tests.chat.conftest import ingest, new_owner
from tests.conftest import Database
from tests.support.gateway import Gateway

SEARCH = "/api/talent/search"
# Words no other test's documents hold, so only these people match these searches.
STAR = {
    "name": "Quasar Star",
    "text": (
        "Quasarflux engineer with six years of experience. Built the quasarflux scheduler "
        "and the nebulite cache in front of it."
    ),
}
PEER = {
    "name": "Quasar Peer",
    "text": "Quasarflux hobbyist: wrote one quasarflux plugin on weekends.",
}
SEARCHES: list[dict[str, Any]] = [
    {"query": "quasarflux"},
    {"query": "Quasarflux with nebulite"},
    {"query": "QUASARFLUX engineer"},
    {"query": "quasarflux developer, nebulite a plus"},
    # The user's own criteria: "NEBULITE" is the "nebulite" of the second search.
    {"query": "nebulite", "criteria": [{"text": "NEBULITE", "kind": "must"}]},
]


async def _person(gateway: Gateway, env: dict[str, str], spec: dict[str, str]) -> dict[str, Any]:
    owner = await new_owner(gateway, env, name=spec["name"], discoverable=True)
    await ingest(owner, {"cv.txt": spec["text"].encode()})
    return owner


async def _search(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    reply = await client.post(SEARCH, json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


def _expected(replies: list[dict[str, Any]], slug: str) -> dict[str, Any]:
    """What the section should say of ``slug``, worked out from the search replies."""
    ranks: list[int] = []
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    first: dict[tuple[str, str], str] = {}
    for reply in replies:
        slugs = [r["bot"] for r in reply["results"]]
        if slug not in slugs:
            continue
        ranks.append(slugs.index(slug) + 1)
        by_id = {c["id"]: c for c in reply["criteria"]}
        for finding in reply["results"][slugs.index(slug)]["criteria"]:
            criterion = by_id[finding["id"]]
            key = (" ".join(criterion["text"].lower().split()), criterion["kind"])
            first.setdefault(key, criterion["text"])
            groups[key][finding["verdict"]] += 1
    criteria = {
        (first[key], key[1]): {
            "appearances": sum(verdicts.values()),
            "verdicts": {v: verdicts[v] for v in ("met", "partial", "missing")},
        }
        for key, verdicts in groups.items()
    }
    return {"ranks": ranks, "criteria": criteria}


async def _insights(
    client: httpx.AsyncClient, owner: dict[str, Any], days: int = 30
) -> dict[str, Any]:
    reply = await client.get(f"/api/bots/{owner['bot']}/insights?days={days}",
                             headers=owner["headers"])  # fmt: skip
    assert reply.status_code == 200, reply.text
    section: dict[str, Any] = reply.json()["appearances"]
    return section


async def _ask(
    client: httpx.AsyncClient, slug: str, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"/api/bots/{slug}/ask", json=body, headers=headers)


async def _as_owner(pg: Database, owner: dict[str, Any], sql: str, *params: object) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(pg.app_url) as conn, conn.transaction():
        await scope(conn, user=owner["user_id"])
        cur = await conn.execute(sql.encode(), params)
        return await cur.fetchall()


async def test_the_owner_sees_how_often_for_what_and_who_then_asked_counted_only(
    gateway: Gateway, chat_env: dict[str, str], client: httpx.AsyncClient, pg: Database
) -> None:
    star = await _person(gateway, chat_env, STAR)
    peer = await _person(gateway, chat_env, PEER)
    other = await new_owner(gateway, chat_env, discoverable=True)  # no documents
    hr_one, hr_two = await signup(client), await signup(client)
    one, two = bearer(hr_one["access_token"]), bearer(hr_two["access_token"])

    replies = [await _search(client, one if i % 2 == 0 else two, body)
               for i, body in enumerate(SEARCHES)]  # fmt: skip
    expected = _expected(replies, star["bot"])
    assert len(expected["ranks"]) >= 4, [[r["bot"] for r in x["results"]] for x in replies]

    # Before anyone asks: how often, how high, per week, for which criteria.
    section = await _insights(client, star)
    assert section["appearances"] == len(expected["ranks"])
    assert section["searches"] == len(expected["ranks"])  # a search shows a person once
    assert section["best_rank"] == min(expected["ranks"])
    assert section["median_rank"] == statistics.median(expected["ranks"])
    weeks = section["weeks"]
    assert [w["week"] for w in weeks] == sorted({w["week"] for w in weeks})
    assert 5 <= len(weeks) <= 6  # 30 days touch 5 or 6 ISO weeks
    assert sum(w["appearances"] for w in weeks) == section["appearances"]
    assert sum(w["appearances"] for w in weeks[-2:]) == section["appearances"]  # made now
    assert all(w["asked"] == 0 for w in weeks)
    got = {(c["text"], c["kind"]): {k: c[k] for k in ("appearances", "verdicts")}
           for c in section["criteria"]}  # fmt: skip
    assert got == expected["criteria"]
    counts = [c["appearances"] for c in section["criteria"]]
    assert counts == sorted(counts, reverse=True)
    # Case and spacing folded, with the kind: "quasarflux" and "Quasarflux" are one
    # criterion (as first written), "NEBULITE" joins "nebulite", the nice-to-have
    # "nebulite" stays apart.
    texts = {(c["text"], c["kind"]): c["appearances"] for c in section["criteria"]}
    assert texts[("quasarflux", "must")] == 2
    assert texts[("nebulite", "must")] == 2
    assert ("nebulite", "nice") in texts
    assert ("NEBULITE", "must") not in texts
    assert ("Quasarflux", "must") not in texts
    assert section["asked"] == {"questions": 0, "conversations": 0, "askers": 0}

    # The searchers follow "ask this person": the link carries via=talent, the page sends
    # it with the question, the question is stored with it.
    link = next(r["ask_url"] for r in replies[0]["results"] if r["bot"] == star["bot"])
    parts = urlsplit(link)
    assert parts.path == f"/b/{star['bot']}"
    params = parse_qs(parts.query)
    assert params == {"via": ["talent"], "q": [SEARCHES[0]["query"]]}
    first = await _ask(client, star["bot"], one, {"question": params["q"][0], "via": "talent"})
    assert first.status_code == 200, first.text
    conversation = first.json()["conversation_id"]
    again = await _ask(client, star["bot"], one, {"question": "How long has he used it?",
                                                  "via": "talent",
                                                  "conversation_id": conversation})  # fmt: skip
    assert again.status_code == 200, again.text
    theirs = await _ask(client, star["bot"], two, {"question": "Nebulite?", "via": "talent"})
    assert theirs.status_code == 200, theirs.text
    direct = await _ask(client, star["bot"], two, {"question": "Where did he study?"})
    explicit = await _ask(client, star["bot"], two, {"question": "Hobbies?", "via": "direct"})
    assert direct.status_code == explicit.status_code == 200, (direct.text, explicit.text)
    stored = await _as_owner(pg, star, "SELECT id::text, source FROM messages WHERE bot_id = %s",
                             star["bot_id"])  # fmt: skip
    sources = dict(stored)
    assert sources[first.json()["message_id"]] == "talent"
    assert sources[again.json()["message_id"]] == "talent"
    assert sources[theirs.json()["message_id"]] == "talent"
    assert sources[direct.json()["message_id"]] == "direct"
    assert sources[explicit.json()["message_id"]] == "direct"

    section = await _insights(client, star)
    assert section["asked"] == {"questions": 3, "conversations": 2, "askers": 2}
    assert sum(w["asked"] for w in section["weeks"][-2:]) == 3
    assert section["appearances"] == len(expected["ranks"])  # asking is not appearing

    # The reply names nobody: no searcher, search, asker, conversation or message.
    reply = await client.get(f"/api/bots/{star['bot']}/insights", headers=star["headers"])
    text = reply.text
    secrets = [hr_one["user"]["id"], hr_two["user"]["id"], hr_one["user"]["email"],
               hr_two["user"]["email"], conversation, *(r["id"] for r in replies),
               first.json()["message_id"], theirs.json()["message_id"]]  # fmt: skip
    for secret in secrets:
        assert secret not in text, secret
    for word in ("search_id", "user_id", 'asker"', "email", "owner_id"):
        assert word not in text, word

    # The other people: the peer has their own count; an owner never shown has none and
    # cannot read this bot's (404, and nothing through row-level security either).
    peer_section = await _insights(client, peer)
    peer_expected = _expected(replies, peer["bot"])
    assert peer_section["appearances"] == len(peer_expected["ranks"])
    assert peer_section["median_rank"] == statistics.median(peer_expected["ranks"])
    got = {(c["text"], c["kind"]): {k: c[k] for k in ("appearances", "verdicts")}
           for c in peer_section["criteria"]}  # fmt: skip
    assert got == peer_expected["criteria"]
    # The peer has no nebulite: shown for "Quasarflux with nebulite" with it missing.
    assert got[("nebulite", "must")]["verdicts"]["missing"] >= 1
    assert peer_section["asked"]["questions"] == 0
    nothing = await _insights(client, other)
    assert nothing["appearances"] == nothing["searches"] == 0
    assert nothing["median_rank"] is None
    assert nothing["best_rank"] is None
    assert nothing["criteria"] == []
    assert all(w["appearances"] == w["asked"] == 0 for w in nothing["weeks"])
    assert nothing["asked"] == {"questions": 0, "conversations": 0, "askers": 0}
    refused = await client.get(f"/api/bots/{star['bot']}/insights", headers=other["headers"])
    assert refused.status_code == 404
    assert "appearances" not in refused.text
    seen = await _as_owner(pg, other, "SELECT count(*) FROM talent_appearances WHERE bot_id = %s",
                           star["bot_id"])  # fmt: skip
    assert seen == [(0,)]
    seen = await _as_owner(pg, other, "SELECT count(*) FROM messages WHERE bot_id = %s",
                           star["bot_id"])  # fmt: skip
    assert seen == [(0,)]


async def test_a_bad_via_is_refused_by_its_field_and_stores_nothing(
    gateway: Gateway, chat_env: dict[str, str], client: httpx.AsyncClient, pg: Database
) -> None:
    owner = await new_owner(gateway, chat_env, discoverable=True)
    session = await signup(client)
    headers = bearer(session["access_token"])
    for via in ("Talent", "hr", "", " talent", 1, True, None, ["talent"], {"via": "talent"}):
        reply = await _ask(client, owner["bot"], headers, {"question": "Hello?", "via": via})
        assert reply.status_code == 400, (via, reply.text)
        error = reply.json()["error"]
        assert error["code"] == "bad_via", (via, error)
        assert error["field"] == "via", (via, error)
        assert "via" in error["message"], (via, error)
    rows = await _as_owner(pg, owner, "SELECT count(*) FROM messages WHERE bot_id = %s",
                           owner["bot_id"])  # fmt: skip
    assert rows == [(0,)]
    conversations = await _as_owner(pg, owner, "SELECT count(*) FROM conversations")
    assert conversations == [(0,)]
    section = await _insights(client, owner)
    assert section["asked"] == {"questions": 0, "conversations": 0, "askers": 0}
    # The quota was not spent on them: a stargazer's 10 questions are all left.
    ok = await _ask(client, owner["bot"], headers, {"question": "Hello?", "via": "talent"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["quota"]["remaining"] == ok.json()["quota"]["limit"] - 1
    # The column's CHECK holds past the API too (a writer that forgot the contract).
    with pytest.raises(psycopg.errors.CheckViolation):
        async with await psycopg.AsyncConnection.connect(pg.superuser_url) as conn:
            await conn.execute("UPDATE messages SET source = 'elsewhere' WHERE id = %s",
                               (ok.json()["message_id"],))  # fmt: skip


async def test_the_window_counts_only_its_days(
    gateway: Gateway, chat_env: dict[str, str], client: httpx.AsyncClient, pg: Database
) -> None:
    """An appearance 40 days ago is outside 30 days, inside 90, in its own ISO week."""
    owner = await new_owner(gateway, chat_env, discoverable=True)
    async with await psycopg.AsyncConnection.connect(pg.superuser_url) as conn:
        cur = await conn.execute(
            "INSERT INTO talent_appearances (search_id, bot_id, owner_id, rank, score, criteria, "
            "created_at) VALUES (%s, %s, %s, 3, 0.5, %s, now() - interval '40 days') "
            "RETURNING (created_at AT TIME ZONE 'Asia/Seoul')::date",
            (str(uuid.uuid4()), owner["bot_id"], owner["user_id"],
             Jsonb([{"text": "Old  Criterion", "kind": "nice",
                                        "type": "keyword", "verdict": "partial"}])),
        )  # fmt: skip
        row = await cur.fetchone()
    assert row is not None
    day: date = row[0]
    month = await _insights(client, owner, 30)
    assert month["appearances"] == 0
    assert month["criteria"] == []
    quarter = await _insights(client, owner, 90)
    assert quarter["appearances"] == 1
    assert quarter["median_rank"] == 3
    assert quarter["best_rank"] == 3
    verdicts = {"met": 0, "partial": 1, "missing": 0}
    assert quarter["criteria"] == [
        {"text": "Old  Criterion", "kind": "nice", "appearances": 1, "verdicts": verdicts}
    ]
    week = appearances.iso_week(day)
    assert [w["appearances"] for w in quarter["weeks"] if w["week"] == week] == [1]
    assert sum(w["appearances"] for w in quarter["weeks"]) == 1
    assert quarter["weeks"][0]["starts"] <= day.isoformat()


def test_the_kinds_are_the_talent_contracts() -> None:
    assert typing.get_args(appearances.Kind) == typing.get_args(contracts.Kind)


def test_iso_weeks_are_labelled_by_their_iso_year() -> None:
    assert appearances.iso_week(date(2024, 12, 30)) == "2025-W01"
    assert appearances.iso_week(date(2021, 1, 3)) == "2020-W53"
    assert appearances.iso_week(date(2025, 6, 2)) == "2025-W23"
