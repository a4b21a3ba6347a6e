"""The bots function in-process (its real ASGI app) behind the real public routes, beside
auth and users (to sign up and become a protostar)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import PUBLIC_URL, accounts_env, bearer, signup
from tests.accounts.test_accounts import task_invite
from tests.support.gateway import Gateway

__all__ = ["accounts_env"]  # the session's settings, shared with the accounts tests


@pytest.fixture(scope="session")
def bots_gateway(accounts_env: dict[str, str]) -> Gateway:
    return Gateway()


def new_client(gateway: Gateway) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=gateway, client=(f"10.8.{uuid.uuid4().int % 250}.1", 1))
    return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)


@pytest.fixture
async def client(bots_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(bots_gateway) as c:
        yield c


async def become_protostar(client: httpx.AsyncClient, env: dict[str, str]) -> dict[str, Any]:
    """Sign up, then redeem a `task invite` code: the session of a new protostar."""
    user = await signup(client)
    code = await asyncio.to_thread(task_invite, env)
    response = await client.post(
        "/api/users/me/invite", json={"code": code}, headers=bearer(user["access_token"])
    )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    assert session["user"]["role"] == "protostar"
    return session


@pytest.fixture(scope="session")
async def owner(bots_gateway: Gateway, accounts_env: dict[str, str]) -> dict[str, Any]:
    """A protostar shared by the tests that only need someone who may own bots."""
    async with new_client(bots_gateway) as c:
        return await become_protostar(c, accounts_env)


@pytest.fixture(scope="session")
async def other(bots_gateway: Gateway, accounts_env: dict[str, str]) -> dict[str, Any]:
    """A second protostar, who must never see the first one's bots."""
    async with new_client(bots_gateway) as c:
        return await become_protostar(c, accounts_env)


def new_slug(prefix: str = "bot") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
