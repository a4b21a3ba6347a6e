"""Small library pieces: log redaction, trace ids, secret files, light imports."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shared.errors import SettingsError
from shared.logs import JsonFormatter, redact, trace_id_from_traceparent, trace_id_var
from shared.secrets import SecretStore
from tests.conftest import ROOT


def test_redact_urls_and_bearer_tokens() -> None:
    text = "connect postgresql://app:pa55word@db/x with Authorization: Bearer eyJhbGc.x.y"
    out = redact(text)
    assert "pa55word" not in out
    assert "eyJhbGc" not in out
    assert "postgresql://app:***@db/x" in out


def test_json_formatter_masks_secret_fields_and_carries_trace() -> None:
    record = logging.makeLogRecord(
        {
            "msg": "login from %s",
            "args": ("1.2.3.4",),
            "levelname": "INFO",
            "password": "pw",
            "refresh_token": "tok",
            "bot_id": "b1",
        }
    )
    token = trace_id_var.set("abc")
    try:
        line = JsonFormatter("auth").format(record)
    finally:
        trace_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "login from 1.2.3.4"
    assert entry["function"] == "auth"
    assert entry["trace_id"] == "abc"
    assert entry["password"] == "***"
    assert entry["refresh_token"] == "***"
    assert entry["bot_id"] == "b1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_traceparent(header: str | None, expected: str | None) -> None:
    assert trace_id_from_traceparent(header) == expected


def test_secrets_are_generated_once_with_mode_0600(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.get("redis-password")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert len(set(results)) == 1
    assert (tmp_path / "secrets" / "redis-password").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["redis-password"]


def test_production_never_generates_secrets(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, create=False)
    with pytest.raises(SettingsError, match="SECRETS_DIR: secret 'redis-password' is missing"):
        store.get("redis-password")
    assert list(tmp_path.iterdir()) == []


def test_function_import_stays_light() -> None:
    """Importing a function (its cold path) pulls in no ML or cloud SDK."""
    code = (
        "import runpy, sys, json; runpy.run_path(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "functions/health/main.py")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    heavy = {
        "torch",
        "google.genai",
        "boto3",
        "botocore",
        "sentence_transformers",
        "kiwipiepy",
        "psycopg_pool",
        "redis",
    }
    assert not heavy & modules


async def test_a_lost_database_is_503_and_other_errors_500() -> None:
    import httpx
    import psycopg
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from shared.http import endpoint

    @endpoint
    async def down(_: Request) -> Response:
        raise psycopg.OperationalError("connection refused")

    @endpoint
    async def bug(_: Request) -> Response:
        raise KeyError("oops")

    app = Starlette(routes=[Route("/down", down), Route("/bug", bug)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as client:
        lost = await client.get("/down")
        broken = await client.get("/bug")
    assert lost.status_code == 503
    assert lost.json()["error"]["code"] == "unavailable"
    assert broken.status_code == 500
    assert "oops" not in broken.text
