"""The auth and users functions in-process (their real ASGI apps), on the session's
embedded PostgreSQL and the external Redis, with their own secrets directory."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from shared.secrets import SecretStore
from tests.conftest import Database, workdir
from tests.support.gateway import Gateway

PUBLIC_URL = "http://protostar.test"


@pytest.fixture(scope="session")
def accounts_env(pg: Database, external_redis_url: str) -> Iterator[dict[str, str]]:
    """Settings for the functions under test, applied to this process's environment."""
    data = workdir("accounts")
    env = {
        "DATABASE_URL": pg.app_url,
        "REDIS_URL": external_redis_url,
        "PROTOSTAR_DATA": str(data),
        "SECRETS_DIR": str(data / "secrets"),
        "OBJECT_STORE_URL": (data / "objects").as_uri(),
        "PUBLIC_URL": PUBLIC_URL,
        # The floor, to keep the suite fast; the default is above it.
        "ARGON2_MEMORY_KIB": "19456",
        "ARGON2_TIME_COST": "2",
        "GUEST_TOKENS_PER_IP_HOUR": "5",
        "INVITES_PER_PROTOSTAR": "2",
        "REFRESH_REUSE_GRACE": "2",
    }
    # The secrets the runtime would make (functions only read theirs).
    SecretStore(data / "secrets").ensure_all()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _reset_caches()
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _reset_caches()


def _reset_caches() -> None:
    import shared.resources
    from shared.accounts import context
    from shared.settings import get_settings

    get_settings.cache_clear()
    context.token_issuer.cache_clear()
    context.token_verifier.cache_clear()
    context.passwords.cache_clear()
    shared.resources._current = None


@pytest.fixture(scope="session")
def gateway(accounts_env: dict[str, str]) -> Gateway:
    return Gateway()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway, client=(f"10.9.{uuid.uuid4().int % 250}.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as c:
        yield c


def email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


PASSWORD = "correct horse 9 battery"


async def signup(
    client: httpx.AsyncClient, address: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/signup", json={"email": address or email(), "password": password}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def db_rows(pg: Database, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.superuser_url) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def secrets_dir(env: dict[str, str]) -> Path:
    return Path(env["SECRETS_DIR"])
