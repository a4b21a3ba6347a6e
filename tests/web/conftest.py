"""Browser tests: the whole system (``task up``) once per session, with its demo, driven
by Playwright through Debian's Chromium (``/usr/bin/chromium``; never ``playwright
install``). Screenshots go to ``ARTIFACTS`` (``.data/test-artifacts/web/``, or
``PROTOSTAR_TEST_ARTIFACTS``)."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.conftest import ROOT, need, workdir
from tests.support.runtime import Up, clean_env

CHROMIUM = Path("/usr/bin/chromium")
RESET_LINK = re.compile(r"\S+/reset#token=[A-Za-z0-9_-]+")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = (
    Path(os.environ.get("PROTOSTAR_TEST_ARTIFACTS", ROOT / ".data" / "test-artifacts")) / "web"
)
BOT = "seojun-han"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class System:
    up: Up
    url: str
    demo: dict[str, Any]
    owner_token: str = ""
    foreign_port: int = 0
    pages: dict[str, str] = field(default_factory=dict)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_token}"}

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """A query as the database superuser (past row-level security), for checks."""
        import psycopg

        state = self.up.state()
        password = (self.up.data / "secrets" / "postgres-superuser-password").read_text().strip()
        url = f"postgresql://postgres:{password}@127.0.0.1:{state['postgres_port']}/protostar"
        with psycopg.connect(url) as conn:
            return list(conn.execute(query, params).fetchall())

    def invite(self) -> str:
        """A new operator invite code: ``task invite`` against this running system."""
        done = subprocess.run(
            [sys.executable, "-m", "shared.accounts.invite_cli"],
            cwd=ROOT,
            env=clean_env({"PROTOSTAR_DATA": str(self.up.data)}),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout.strip().splitlines()[-1]

    def reset_links(self, user_id: str) -> list[str]:
        """The reset links mailed to a user so far: with no SMTP configured, notify writes
        each mail to its log, links included when PROTOSTAR_ENV is local."""
        log = self.up.data / "logs" / "notify.log"
        links = []
        for line in log.read_text().splitlines() if log.exists() else []:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("user_id") == user_id and isinstance(entry.get("text"), str):
                links += RESET_LINK.findall(entry["text"])
        return links

    def wait_reset_link(self, user_id: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = self.reset_links(user_id)
            if links:
                return links[-1]
            time.sleep(0.2)
        pytest.fail(f"no reset mail for {user_id} in notify's log")

    def wait_documents_ready(self, bot: str, timeout: float = 180) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.api() as client:
            while time.monotonic() < deadline:
                docs = client.get(f"/api/bots/{bot}/documents", headers=self.owner()).json()
                documents: list[dict[str, Any]] = docs["documents"]
                if documents and all(d["status"] in ("ready", "failed") for d in documents):
                    failed = [d for d in documents if d["status"] == "failed"]
                    assert not failed, failed
                    return documents
                time.sleep(0.5)
        pytest.fail(f"documents of {bot} never became ready")


class _ForeignSite(http.server.BaseHTTPRequestHandler):
    """A second local origin (a blog on another host:port) serving given pages."""

    pages: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def system() -> Iterator[System]:
    if not CHROMIUM.exists():
        need("chromium", "apt-get install chromium fonts-nanum (.ci/run does)")
    data = workdir("web")
    port = free_port()
    up = Up(
        data,
        port,
        extra_env={
            "GUEST_TOKENS_PER_IP_HOUR": "1000",  # every browser context is a new guest
            "ARGON2_MEMORY_KIB": "19456",
        },
    )
    try:
        up.wait_healthy(120)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        demo: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                demo = json.loads((data / "demo.json").read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                demo = {}
            if demo.get("status") == "ready":
                break
            if up.proc.poll() is not None:
                pytest.fail(f"runtime exited: {up.proc.communicate()[1][-2000:]}")
            time.sleep(0.3)
        else:
            pytest.fail("the demo was never set up")
        system = System(up=up, url=url, demo=demo)
        with system.api() as client:
            login = client.post(
                "/api/auth/login", json={"email": demo["email"], "password": demo["password"]}
            )
            assert login.status_code == 200, login.text
            system.owner_token = login.json()["access_token"]
        # A second origin for embedding: http://localhost:P is allowed, 127.0.0.1:P is not.
        handler = type("Site", (_ForeignSite,), {"pages": system.pages})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        system.foreign_port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with system.api() as client:
            bot = client.get(f"/api/bots/{BOT}", headers=system.owner()).json()
            origins = [*bot["allowed_origins"], f"http://localhost:{system.foreign_port}"]
            patched = client.patch(
                f"/api/bots/{BOT}", json={"allowed_origins": origins}, headers=system.owner()
            )
            assert patched.status_code == 200, patched.text
        system.wait_documents_ready(BOT)
        yield system
        server.shutdown()
    finally:
        up.close()


@pytest.fixture(scope="session")
def chat_api(system: System) -> System:
    """The system, with its chat routes answering: a 404 (a routing regression) fails
    every test that needs them, never skips them."""
    with system.api() as client:
        probe = client.post(f"/api/bots/{BOT}/ask", json={"question": "x"})
    assert probe.status_code != 404, f"/api/bots/{BOT}/ask is not routed: {probe.text}"
    return system


@pytest.fixture(scope="module")
def browser(system: System) -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread
    while it is open, which async tests of later modules could not share."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(locale="en-US", viewport={"width": 1200, "height": 860})
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


def shot(page: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
