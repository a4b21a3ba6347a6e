"""Chat tests: the functions in-process behind the real public routes, the real
embedder model over HTTP, documents ingested through the real embed step."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.accounts.principal import Principal
from tests.accounts.conftest import PUBLIC_URL, accounts_env, bearer
from tests.bots.conftest import become_protostar, new_slug
from tests.conftest import ROOT
from tests.embeddings.conftest import embedder_app, embedder_url
from tests.support.gateway import Gateway

__all__ = ["accounts_env", "embedder_app", "embedder_url"]

CORPUS = ROOT / "shared" / "demo" / "corpus"


def reset_chat() -> None:
    import shared.chat.factory

    shared.chat.factory._service = None


@pytest.fixture(scope="session")
def chat_env(accounts_env: dict[str, str], embedder_url: str) -> Iterator[dict[str, str]]:
    saved = os.environ.get("EMBEDDER_URL")
    os.environ["EMBEDDER_URL"] = embedder_url
    reset_chat()
    yield {**accounts_env, "EMBEDDER_URL": embedder_url}
    if saved is None:
        os.environ.pop("EMBEDDER_URL", None)
    else:
        os.environ["EMBEDDER_URL"] = saved
    reset_chat()


@pytest.fixture(scope="session")
def gateway(chat_env: dict[str, str]) -> Gateway:
    return Gateway()


def new_client(gateway: Gateway, ip: str | None = None) -> httpx.AsyncClient:
    ip = ip or f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    transport = httpx.ASGITransport(app=gateway, client=(ip, 1))
    return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, timeout=60)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(gateway) as c:
        yield c


async def ingest(owner: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    """Upload through the content service and run the embed step on each event
    (what the broker's Trigger does), so the chunks are ready when this returns."""
    from shared.content.embedding import process
    from shared.content.service import ContentService
    from shared.embeddings.factory import provider_from_settings
    from shared.events import outbox
    from shared.resources import get_resources

    res = get_resources("tests")
    pool = await res.pool()
    service = ContentService(pool, res.object_store(), max_bytes=10_000_000)
    provider = provider_from_settings(res.settings)
    principal = Principal(subject=owner["user_id"], role="protostar")
    ids = []
    try:
        for name, data in files.items():
            body, event_id = await service.upload(principal, owner["bot"], name, data)
            event = await outbox.load(pool, event_id)
            assert event is not None
            outcome = await process(pool, res.object_store(), provider, event)
            assert outcome == "ready", (name, outcome)
            ids.append(body["id"])
    finally:
        await provider.close()
    return ids


async def new_owner(gateway: Gateway, env: dict[str, str], **bot: Any) -> dict[str, Any]:
    async with new_client(gateway) as c:
        session = await become_protostar(c, env)
        slug = new_slug("cv")
        created = await c.post(
            "/api/bots",
            headers=bearer(session["access_token"]),
            json={"slug": slug, "name": bot.pop("name", "한서준"), **bot},
        )
        assert created.status_code == 201, created.text
    return {
        "token": session["access_token"],
        "bot": slug,
        "bot_id": created.json()["id"],
        "user_id": session["user"]["id"],
        "headers": bearer(session["access_token"]),
    }


def corpus_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(CORPUS).glob("*.md"))}


@pytest.fixture(scope="session")
async def demo(gateway: Gateway, chat_env: dict[str, str]) -> dict[str, Any]:
    """A protostar whose bot holds the demo corpus (shared by read-only tests)."""
    owner = await new_owner(gateway, chat_env, allowed_origins=["https://blog.example.com"])
    owner["documents"] = await ingest(owner, corpus_files())
    return owner


async def guest_token(client: httpx.AsyncClient, bot: str) -> str:
    response = await client.post("/api/auth/guest", json={"bot": bot})
    assert response.status_code in (200, 201), response.text
    token: str = response.json()["access_token"]
    return token


def parse_sse(raw: str) -> list[tuple[str, Any]]:
    """Events of an SSE body as (event, parsed data), asserting the framing."""
    import json

    events: list[tuple[str, Any]] = []
    assert raw.endswith("\n\n"), raw[-50:]
    for block in raw.split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        assert lines[0].startswith("event: "), block
        assert all(line.startswith("data: ") for line in lines[1:]), block
        data = "\n".join(line[len("data: ") :] for line in lines[1:])
        events.append((lines[0][len("event: ") :], json.loads(data)))
    return events
