"""A local fake of Discord's Execute Webhook endpoint, speaking its wire protocol, so
notify's real client (httpx) can be pointed at it (``DISCORD_API_URL``).

    POST {api}/webhooks/{webhook.id}/{webhook.token}[?wait=true]
    Content-Type: application/json
    {"content": "...", "embeds": [...], "allowed_mentions": {"parse": []}, "username": ...}

answers like Discord does:

- ``200`` and the created message object with ``wait=true`` (``204`` without);
- ``404 {"message": "Unknown Webhook", "code": 10015}`` for an unknown or deleted one,
  ``401 {"message": "Invalid Webhook Token", "code": 50027}`` for a wrong token;
- ``400 {"message": "Invalid Form Body", "code": 50035, "errors": ...}`` when a limit
  is broken (content 2,000; 10 embeds; title 256; description 4,096; 25 fields, name
  256, value 1,024; footer 2,048; 6,000 across a message's embeds; lengths in UTF-16
  code units) or ``50006`` for an empty message;
- a rate limit per webhook (``limit`` posts per ``window`` seconds) reported on every
  answer in ``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket``; a post over it
  gets ``429 {"message": "You are being rate limited.", "retry_after": <float>,
  "global": false}`` with ``Retry-After`` and ``X-RateLimit-Scope: user``.

Scripted trouble: ``rate_limit_next(seconds)`` answers the next post with a 429 asking
for that wait; ``fail_next(status)`` with a 5xx; ``delete(webhook_id)``.

Every request is kept (``requests``) with its arrival time on the monotonic clock and
what was answered, so tests measure the spacing the client kept.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBEDS_TOTAL = 6000


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Seen:
    webhook_id: str
    at: float
    status: int
    body: dict[str, Any] | None
    wait: bool


@dataclass
class Bucket:
    window_start: float = 0.0
    used: int = 0


@dataclass
class FakeDiscord:
    limit: int = 5
    window: float = 2.0
    webhooks: dict[str, str] = field(default_factory=dict)  # id -> token
    deleted: set[str] = field(default_factory=set)
    requests: list[Seen] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    _buckets: dict[str, Bucket] = field(default_factory=dict)
    _script: deque[tuple[str, float]] = field(default_factory=deque)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_100_000_000))
    url: str = ""

    # -- scripting -----------------------------------------------------------------
    def add_webhook(self, webhook_id: str, token: str) -> str:
        self.webhooks[webhook_id] = token
        return f"https://discord.com/api/webhooks/{webhook_id}/{token}"

    def delete(self, webhook_id: str) -> None:
        self.deleted.add(webhook_id)

    def rate_limit_next(self, seconds: float) -> None:
        self._script.append(("429", seconds))

    def fail_next(self, status: int) -> None:
        self._script.append(("status", float(status)))

    def received(self, webhook_id: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.messages if webhook_id is None or m["webhook_id"] == webhook_id]

    # -- the endpoint ----------------------------------------------------------------
    def _limits(self, webhook_id: str, now: float) -> tuple[Bucket, dict[str, str]]:
        bucket = self._buckets.setdefault(webhook_id, Bucket(now))
        if now - bucket.window_start >= self.window:
            bucket.window_start, bucket.used = now, 0
        reset_after = max(0.0, bucket.window_start + self.window - now)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - bucket.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"webhook-{webhook_id}",
        }
        return bucket, headers

    @staticmethod
    def _too_many(retry_after: float, headers: dict[str, str]) -> web.Response:
        headers = {
            **headers,
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "user",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        }
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        return web.json_response(body, status=429, headers=headers)

    async def execute(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        webhook_id, token = request.match_info["id"], request.match_info["token"]
        wait = request.query.get("wait", "false").lower() == "true"
        try:
            body = await request.json()
        except ValueError:
            body = None
        response = self._answer(webhook_id, token, wait, body, now)
        self.requests.append(Seen(webhook_id, now, response.status, body, wait))
        return response

    def _answer(
        self, webhook_id: str, token: str, wait: bool, body: Any, now: float
    ) -> web.Response:
        if webhook_id not in self.webhooks or webhook_id in self.deleted:
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        if self.webhooks[webhook_id] != token:
            return web.json_response(
                {"message": "Invalid Webhook Token", "code": 50027}, status=401
            )
        bucket, headers = self._limits(webhook_id, now)
        if self._script:
            kind, value = self._script.popleft()
            if kind == "429":
                return self._too_many(value, headers)
            return web.json_response(
                {"message": "Internal Server Error", "code": 0}, status=int(value)
            )
        if bucket.used >= self.limit:
            return self._too_many(max(0.001, bucket.window_start + self.window - now), headers)
        problems = self._validate(body)
        bucket.used += 1
        _, headers = self._limits(webhook_id, now)
        if problems:
            code = 50006 if problems == ["empty"] else 50035
            message = "Cannot send an empty message" if code == 50006 else "Invalid Form Body"
            return web.json_response(
                {"message": message, "code": code, "errors": problems}, status=400, headers=headers
            )
        message = {
            "id": str(next(self._ids)),
            "type": 0,
            "channel_id": "900000000000000001",
            "webhook_id": webhook_id,
            "author": {
                "id": webhook_id,
                "username": body.get("username", "Captain Hook"),
                "bot": True,
            },
            "content": body.get("content", ""),
            "embeds": body.get("embeds", []),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "tts": False,
            "allowed_mentions": body.get("allowed_mentions"),
        }
        self.messages.append(message)
        if not wait:
            return web.Response(status=204, headers=headers)
        public = {k: v for k, v in message.items() if k != "allowed_mentions"}
        return web.json_response(public, status=200, headers=headers)

    @staticmethod
    def _validate(body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["body: not a JSON object"]
        problems: list[str] = []
        content = body.get("content", "")
        embeds = body.get("embeds", [])
        if not isinstance(content, str) or not isinstance(embeds, list):
            return ["content or embeds of the wrong type"]
        if not content.strip() and not embeds:
            return ["empty"]
        if units(content) > CONTENT_MAX:
            problems.append(f"content: {units(content)} > {CONTENT_MAX}")
        if len(embeds) > EMBEDS_MAX:
            problems.append(f"embeds: {len(embeds)} > {EMBEDS_MAX}")
        total = 0
        for i, embed in enumerate(embeds):
            title = embed.get("title", "")
            description = embed.get("description", "")
            footer = (embed.get("footer") or {}).get("text", "")
            fields = embed.get("fields", [])
            total += units(title) + units(description) + units(footer)
            if units(title) > 256:
                problems.append(f"embeds.{i}.title > 256")
            if units(description) > 4096:
                problems.append(f"embeds.{i}.description > 4096")
            if units(footer) > 2048:
                problems.append(f"embeds.{i}.footer > 2048")
            if len(fields) > 25:
                problems.append(f"embeds.{i}.fields > 25")
            for j, f in enumerate(fields):
                total += units(f.get("name", "")) + units(f.get("value", ""))
                if not f.get("name") or units(f["name"]) > 256:
                    problems.append(f"embeds.{i}.fields.{j}.name")
                if not f.get("value") or units(f["value"]) > 1024:
                    problems.append(f"embeds.{i}.fields.{j}.value")
        if total > EMBEDS_TOTAL:
            problems.append(f"embeds: {total} characters > {EMBEDS_TOTAL}")
        return problems

    # -- serving -----------------------------------------------------------------
    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/api/webhooks/{id}/{token}", self.execute)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api"
        return runner


def dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)
