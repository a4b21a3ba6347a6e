"""The health function as its own process: 200 when every part is up, 503 naming the one
that is down, and back to 200 when it returns."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from localplatform.embedded.procs import free_port, spawn, stop
from localplatform.embedded.redis import EmbeddedRedis
from shared.secrets import SecretStore
from tests.conftest import ROOT, Database, workdir


@pytest.fixture
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(workdir("hredis") / "redis", password="health-pw")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def health_url(pg: Database, redis_server: EmbeddedRedis) -> Iterator[str]:
    data = workdir("hdata")
    SecretStore(data / "secrets").ensure_all()  # what the runtime would make
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg.app_url,
        "REDIS_URL": redis_server.url,
        "PROTOSTAR_DATA": str(data),
        "OBJECT_STORE_URL": (data / "objects").as_uri(),
        "PYTHONPATH": str(ROOT),
        "K_SERVICE": "health",
    }
    proc = spawn(
        [
            sys.executable,
            "-m",
            "functions_framework",
            "--target",
            "health",
            "--source",
            str(ROOT / "functions/health/main.py"),
            "--asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        log=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url
    stop(proc)


def test_all_up_is_200(health_url: str) -> None:
    response = httpx.get(health_url, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgres", "redis", "object_store"}
    assert response.headers["cache-control"] == "no-store"


def test_stopped_redis_is_503_naming_redis(health_url: str, redis_server: EmbeddedRedis) -> None:
    assert httpx.get(health_url, timeout=10).status_code == 200
    redis_server.stop()
    response = httpx.get(health_url, timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["postgres"]["status"] == "up"
    assert "health-pw" not in response.text
    redis_server.start()  # same port: the function recovers without a restart
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if httpx.get(health_url, timeout=10).status_code == 200:
            break
        time.sleep(0.3)
    assert httpx.get(health_url, timeout=10).status_code == 200


def test_head_is_a_get_without_its_body(health_url: str) -> None:
    """Uptime monitors probe with HEAD."""
    response = httpx.head(health_url, timeout=10)
    assert response.status_code == 200
    assert response.content == b""
    assert httpx.post(health_url, timeout=10).status_code == 405


def test_unknown_path_is_json_404(health_url: str) -> None:
    response = httpx.get(health_url.replace("/healthz", "/nope"), timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
