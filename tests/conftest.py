"""Shared fixtures: real PostgreSQL (embedded, with pgvector), Redis, S3 (moto server).

A test that needs a service which is absent is skipped with a reason, unless that
service is named in ``PROTOSTAR_REQUIRE`` (CI sets it): then it fails.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.db import bootstrap
from shared.db.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {s.strip() for s in os.environ.get("PROTOSTAR_REQUIRE", "").split(",") if s.strip()}


def need(service: str, reason: str) -> None:
    """Skip (or, when CI requires the service, fail) a test whose service is absent."""
    if service in REQUIRED:
        pytest.fail(f"{service} is required (PROTOSTAR_REQUIRE) but unavailable: {reason}")
    pytest.skip(f"{service} unavailable: {reason}")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def workdir(prefix: str) -> Path:
    """A temp dir other users can traverse (embedded PostgreSQL runs as its own user)."""
    path = Path(tempfile.mkdtemp(prefix=f"protostar-{prefix}-"))
    path.chmod(0o755)
    return path


@dataclass
class Database:
    server: object
    superuser_url: str
    owner_url: str
    app_url: str
    roles: bootstrap.Roles


@pytest.fixture(scope="session")
def pg() -> Iterator[Database]:
    """One embedded PostgreSQL 18 + pgvector for the session, bootstrapped and migrated."""
    from localplatform.embedded.postgres import EmbeddedPostgres

    root = workdir("pg")
    server = EmbeddedPostgres(root / "postgres", password="super-secret-pw", fsync=False)
    try:
        server.start()
    except Exception as exc:
        need("postgres", f"embedded PostgreSQL did not start: {exc}")
    roles = bootstrap.Roles(owner_password="owner-pw", app_password="app-pw")
    bootstrap.bootstrap(server.url(), roles)
    db = Database(
        server=server,
        superuser_url=server.url(database=roles.database),
        owner_url=server.url(roles.owner, roles.owner_password, roles.database),
        app_url=server.url(roles.app, roles.app_password, roles.database),
        roles=roles,
    )
    migrate(db.owner_url, roles.app)
    yield db
    server.stop()


@pytest.fixture(scope="session")
def external_redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not reachable("127.0.0.1", 6379) and "TEST_REDIS_URL" not in os.environ:
        need("redis", "nothing listens on 127.0.0.1:6379")
    return url


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    url = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    if not reachable("127.0.0.1", 5672) and "TEST_RABBITMQ_URL" not in os.environ:
        need("rabbitmq", "nothing listens on 127.0.0.1:5672")
    return url
