"""Fixtures: the fake Gemini server and the embedder function (its real ASGI app)
in-process and over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from localplatform.embedded.procs import free_port
from tests.conftest import ROOT
from tests.embeddings.fake_gemini import FakeGemini, serve

API_KEY = "AIzaSy-fake-KEY-7c1e9d0b-never-log-me"


@pytest.fixture(scope="session")
async def gemini_server() -> AsyncIterator[tuple[FakeGemini, str]]:
    fake = FakeGemini(API_KEY)
    async with serve(fake.app, free_port()) as url:
        yield fake, url


@pytest.fixture
def gemini(gemini_server: tuple[FakeGemini, str]) -> tuple[FakeGemini, str]:
    fake, url = gemini_server
    fake.reset()
    return fake, url


class Counting:
    """ASGI middleware counting the requests of each path (batches on the wire)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def embedder_app() -> Counting:
    """functions/embedder/main.py as functions-framework builds it (model loads lazily)."""
    from functions_framework.aio import create_asgi_app

    return Counting(create_asgi_app("embedder", str(ROOT / "functions/embedder/main.py")))


@pytest.fixture
async def embedder(embedder_app: Counting) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=embedder_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://embedder.local", timeout=120
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def embedder_url(embedder_app: Counting) -> AsyncIterator[str]:
    """The same app served by uvicorn on a free port (real HTTP)."""
    async with serve(embedder_app, free_port()) as url:
        yield url
