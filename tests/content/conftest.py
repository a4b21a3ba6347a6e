"""Content tests: the functions behind the real routes, a protostar with a bot."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import PUBLIC_URL, accounts_env, bearer
from tests.bots.conftest import become_protostar, new_slug
from tests.support.gateway import Gateway

__all__ = ["accounts_env"]


@pytest.fixture(scope="session")
def gateway_all(accounts_env: dict[str, str]) -> Gateway:
    return Gateway()


@pytest.fixture
async def client(gateway_all: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway_all, client=(f"10.7.{uuid.uuid4().int % 250}.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as c:
        yield c


@pytest.fixture
async def owner(client: httpx.AsyncClient, accounts_env: dict[str, str]) -> dict[str, Any]:
    """A protostar with one bot: {token, bot, user_id, headers}."""
    session = await become_protostar(client, accounts_env)
    slug = new_slug("cv")
    created = await client.post(
        "/api/bots",
        headers=bearer(session["access_token"]),
        json={"slug": slug, "name": "Career bot"},
    )
    assert created.status_code == 201, created.text
    return {
        "token": session["access_token"],
        "bot": slug,
        "bot_id": created.json()["id"],
        "user_id": session["user"]["id"],
        "headers": bearer(session["access_token"]),
    }
