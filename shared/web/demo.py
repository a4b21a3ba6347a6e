"""The demo the first ``task up`` sets up: a demo owner, their bot, and the bundled
bilingual career corpus (``shared/demo/corpus``) uploaded to it, so that
http://127.0.0.1:8080/ (a demo tech blog with the widget) is ready to ask.

Everything goes through the public API of the running system, the same path as any
owner: sign up, redeem an invite code (issued by the operator, as ``task invite``
does), create the bot, upload each document (stored, then embedded by the ``embed``
function through the broker like any upload). The dashboard credentials are written
to ``<data>/demo.json`` (mode 0600) before anything is created and printed once, when
the demo is complete. An interrupted setup resumes on the next start: each step checks
what already exists.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.errors import ProtostarError

log = logging.getLogger("protostar.demo")

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "shared" / "demo" / "corpus"
STATE_FILE = "demo.json"
DEMO_BOT = "seojun-han"
DEMO_EMAIL = "demo-owner@example.com"
DEMO_NAME = "한서준 Seojun Han (demo)"
BOT_SETTINGS: dict[str, Any] = {
    "name": "한서준 커리어 봇 · Seojun's career bot",
    "greeting": (
        "안녕하세요! 한서준의 이력서, 경력기술서, 블로그 글을 바탕으로 답해 드려요.\n"
        "Hi! Ask me about Seojun's career; answers cite his documents."
    ),
    "suggested_questions": [
        "왜 Kafka 대신 RabbitMQ를 골랐나요?",
        "Has he run Kubernetes in production?",
        "주문 API 지연 시간을 얼마나 줄였나요?",
        "What did he build with pgvector?",
    ],
    "language": "auto",
    "persona": "Answer as Seojun Han's career assistant: concise, factual, citing his documents.",
}


class DemoError(ProtostarError):
    code = "demo_failed"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    bot: str
    dashboard: str
    blog: str

    def banner(self) -> str:
        return (
            f"protostar: demo ready: blog {self.blog} (ask with the button at the bottom "
            f"right); dashboard {self.dashboard} as {self.email} / {self.password} "
            "(kept in the data dir's demo.json)"
        )


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, path)


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.md") if p.is_file())


def _check(response: httpx.Response, *ok: int) -> dict[str, Any]:
    if response.status_code not in ok:
        raise DemoError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def _issue_invite(database_url: str, ttl_days: int) -> str:
    from shared.accounts.service import insert_invite, new_invite_code
    from shared.db.pool import open_pool

    pool = await open_pool(database_url, name="demo", min_size=1, max_size=1)
    try:
        code = new_invite_code()
        async with pool.connection() as conn, conn.transaction():
            await insert_invite(conn, code, datetime.now(UTC) + timedelta(days=ttl_days), None)
        return code
    finally:
        await pool.close()


async def _session(client: httpx.AsyncClient, state: dict[str, Any]) -> dict[str, Any]:
    signup = await client.post(
        "/api/auth/signup",
        json={"email": state["email"], "password": state["password"], "display_name": DEMO_NAME},
    )
    if signup.status_code == 409:
        return _check(
            await client.post(
                "/api/auth/login", json={"email": state["email"], "password": state["password"]}
            ),
            200,
        )
    return _check(signup, 201)


async def seed(
    *,
    api_url: str,
    public_url: str,
    data_dir: Path,
    database_url: str,
    invite_ttl_days: int = 1,
    dashboard_url: str | None = None,
) -> DemoAccount | None:
    """Set the demo up; None when it already was (nothing is printed twice)."""
    files = corpus_files()
    if not files:
        log.warning("no demo corpus found; the demo is skipped", extra={"dir": str(CORPUS)})
        return None
    path = data_dir / STATE_FILE
    state = _read_state(path)
    if state.get("status") == "ready":
        return None
    if not state.get("password"):
        state = {
            "email": DEMO_EMAIL,
            "password": secrets.token_urlsafe(15),
            "bot": DEMO_BOT,
            "status": "pending",
        }
        _write_state(path, state)  # before the account exists: never an unknown password
    blog = public_url.rstrip("/") + "/"
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        session = await _session(client, state)
        if session["user"]["role"] != "protostar":
            code = await _issue_invite(database_url, invite_ttl_days)
            session = _check(
                await client.post(
                    "/api/users/me/invite",
                    json={"code": code},
                    headers={"Authorization": f"Bearer {session['access_token']}"},
                ),
                200,
            )
        auth = {"Authorization": f"Bearer {session['access_token']}"}
        from shared.web.embedding import origin_of

        origins = list(dict.fromkeys([origin_of(public_url), origin_of(api_url)]))
        created = await client.post(
            "/api/bots",
            json={"slug": state["bot"], "allowed_origins": origins, **BOT_SETTINGS},
            headers=auth,
        )
        if created.status_code != 409:
            _check(created, 201)
        listed = _check(await client.get(f"/api/bots/{state['bot']}/documents", headers=auth), 200)
        have = {doc["filename"] for doc in listed["documents"]}
        for file in files:
            if file.name in have:
                continue
            response = await client.post(
                f"/api/bots/{state['bot']}/documents",
                files={"file": (file.name, file.read_bytes(), "text/markdown")},
                headers=auth,
            )
            _check(response, 202)
    state["status"] = "ready"
    state["created_at"] = datetime.now(UTC).isoformat()
    _write_state(path, state)
    log.info("demo set up", extra={"bot": state["bot"], "documents": len(files)})
    return DemoAccount(
        email=state["email"],
        password=state["password"],
        bot=state["bot"],
        dashboard=(dashboard_url or public_url).rstrip("/") + "/dashboard",
        blog=blog,
    )
