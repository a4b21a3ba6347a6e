"""The embed function under the parse time budget: a document built to stall the text
parsers ends ``failed`` with the reason, and the same function instance then makes the
next document ready (Gemini embeddings against the local fake: no model to load)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

import shared.resources
from localplatform.embedded.procs import free_port
from shared.content.failure import UPLOADED
from shared.documents import budget
from shared.events.cloudevent import CloudEvent, to_binary
from shared.settings import get_settings
from tests.accounts.conftest import PUBLIC_URL
from tests.conftest import Database
from tests.embeddings.conftest import API_KEY
from tests.embeddings.fake_gemini import FakeGemini, serve
from tests.support.gateway import Gateway

BUDGET = 1.0


def _reset() -> None:
    get_settings.cache_clear()
    shared.resources._current = None


@pytest.fixture
async def gateway(
    accounts_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    fake = FakeGemini(API_KEY)
    async with serve(fake.app, free_port()) as url:
        monkeypatch.setenv("EMBEDDING_PROVIDER", "gemini")
        monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
        monkeypatch.setenv("GEMINI_BASE_URL", url)
        monkeypatch.delenv("BROKER_URL", raising=False)
        monkeypatch.setattr(budget, "TIME_BUDGET_SECONDS", BUDGET)
        _reset()
        yield Gateway()  # a fresh embed function: its provider comes from these settings
        if shared.resources._current is not None:
            await shared.resources._current.close()
    monkeypatch.undo()
    _reset()


async def _deliver(gateway: Gateway, pg: Database, doc_id: str) -> int:
    """POST the document's latest uploaded event (from the outbox) to embed, binary mode."""
    with psycopg.connect(pg.superuser_url) as conn:
        row = conn.execute(
            "SELECT event_id, source, data::text FROM outbox WHERE type = %s AND subject = %s "
            "ORDER BY seq DESC LIMIT 1",
            (UPLOADED, doc_id),
        ).fetchone()
    assert row is not None
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": row[0],
            "source": row[1],
            "type": UPLOADED,
            "subject": doc_id,
            "datacontenttype": "application/json",
        },
        row[2].encode(),
    )
    headers, body = to_binary(event)
    transport = httpx.ASGITransport(app=gateway.app("embed"))
    async with httpx.AsyncClient(transport=transport, base_url="http://embed") as embed:
        return (await embed.post("/", content=body, headers=headers)).status_code


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("markers.md", b"-\n" * 1_000_000),
        ("brackets.md", b"[" * 2_000_000),
        ("bullets.txt", b"- a\n" * 1_000_000),
    ],
)
async def test_a_document_that_stalls_the_parser_fails_and_embed_stays_healthy(
    gateway: Gateway, owner: dict[str, Any], pg: Database, name: str, data: bytes
) -> None:
    transport = httpx.ASGITransport(app=gateway, client=("10.9.1.1", 1))
    async with httpx.AsyncClient(
        transport=transport, base_url=PUBLIC_URL, headers=owner["headers"], timeout=60
    ) as api:
        docs = f"/api/bots/{owner['bot']}/documents"
        slow = (await api.post(docs, files={"file": (name, data)})).json()["id"]
        assert await _deliver(gateway, pg, slow) == 202
        body = (await api.get(f"{docs}/{slow}")).json()
        assert body["status"] in ("failed", "ready"), body  # never left processing
        if body["status"] == "failed":  # a machine fast enough may finish within 1 s
            assert f"took longer than {BUDGET:g} s" in body["error"], body
        fine = (
            await api.post(docs, files={"file": ("cv.md", b"# Jane\n\nKafka at scale.\n")})
        ).json()["id"]
        assert await _deliver(gateway, pg, fine) == 202
        after = (await api.get(f"{docs}/{fine}")).json()
        assert after["status"] == "ready", after
        assert after["embedding_model"].startswith("gemini:")


async def test_reindex_re_embeds_every_document_with_progress_in_their_statuses(
    gateway: Gateway, owner: dict[str, Any], pg: Database
) -> None:
    transport = httpx.ASGITransport(app=gateway, client=("10.9.1.2", 1))
    async with httpx.AsyncClient(
        transport=transport, base_url=PUBLIC_URL, headers=owner["headers"], timeout=60
    ) as api:
        docs = f"/api/bots/{owner['bot']}/documents"
        ids = [
            (await api.post(docs, files={"file": (f"cv{i}.md", text)})).json()["id"]
            for i, text in enumerate([b"# A\n\nKafka at scale.\n", b"# B\n\nRedis.\n"])
        ]
        for doc_id in ids:
            assert await _deliver(gateway, pg, doc_id) == 202
        reindexed = await api.post(f"/api/bots/{owner['bot']}/reindex")
        assert reindexed.status_code == 202
        assert reindexed.json() == {"documents": 2, "status": "reindexing"}
        # Progress: every document is back to uploaded, its old vectors gone at once.
        listed = {d["id"]: d for d in (await api.get(docs)).json()["documents"]}
        assert [(listed[i]["status"], listed[i]["chunks"]) for i in ids] == [("uploaded", 0)] * 2
        assert await _deliver(gateway, pg, ids[0]) == 202
        listed = {d["id"]: d for d in (await api.get(docs)).json()["documents"]}
        assert [listed[i]["status"] for i in ids] == ["ready", "uploaded"]
        assert await _deliver(gateway, pg, ids[1]) == 202
        for doc_id in ids:
            body = (await api.get(f"{docs}/{doc_id}")).json()
            assert body["status"] == "ready"
            assert body["chunks"] >= 1
    with psycopg.connect(pg.superuser_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM chunks WHERE document_id = ANY(%s::uuid[])", (ids,)
        ).fetchone()
    assert count == (sum(1 for _ in ids),)  # one chunk each, no duplicates left behind


async def test_one_document_is_reindexed_alone(
    gateway: Gateway, owner: dict[str, Any], pg: Database
) -> None:
    transport = httpx.ASGITransport(app=gateway, client=("10.9.1.3", 1))
    async with httpx.AsyncClient(
        transport=transport, base_url=PUBLIC_URL, headers=owner["headers"], timeout=60
    ) as api:
        docs = f"/api/bots/{owner['bot']}/documents"
        ids = [
            (await api.post(docs, files={"file": (f"one{i}.md", text)})).json()["id"]
            for i, text in enumerate([b"# A\n\nKafka at scale.\n", b"# B\n\nRedis.\n"])
        ]
        for doc_id in ids:
            assert await _deliver(gateway, pg, doc_id) == 202
        response = await api.post(f"{docs}/{ids[0]}/reindex")
        assert response.status_code == 202
        assert response.json() == {"documents": 1, "status": "reindexing"}
        listed = {d["id"]: d for d in (await api.get(docs)).json()["documents"]}
        assert [(listed[i]["status"], listed[i]["chunks"] > 0) for i in ids] == [
            ("uploaded", False),
            ("ready", True),  # the other document keeps answering
        ]
        assert await _deliver(gateway, pg, ids[0]) == 202
        assert (await api.get(f"{docs}/{ids[0]}")).json()["status"] == "ready"
        missing = await api.post(f"{docs}/00000000-0000-4000-8000-000000000000/reindex")
        assert missing.status_code == 404
        other = await api.post(f"{docs}/{ids[0]}/reindex", headers={"Authorization": "Bearer x"})
        assert other.status_code == 401
