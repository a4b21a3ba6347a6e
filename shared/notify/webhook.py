"""Posting to Discord webhooks: ``?wait=true``, rate limits honoured, failures typed.

Discord's Execute Webhook (``POST /webhooks/{id}/{token}``) answers, with ``wait=true``,
``200`` and the created message object (its ``id`` is kept in the ledger). Every answer
carries the webhook's rate-limit bucket in ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset-After`` (seconds, a float): when nothing remains, the next post to
that webhook waits until the bucket resets instead of earning a 429. A 429 says how
long to wait in its JSON body's ``retry_after`` (seconds, a float; ``global: true``
holds every webhook); the post is repeated after that, up to ``max_wait`` seconds per
wait, beyond which the delivery is handed back to the broker as transient.

A 404 (Unknown Webhook) or 401 (Invalid Webhook Token) raises :class:`WebhookGone`;
another 4xx :class:`PermanentFailure`; a 5xx or a network error is retried a few times
with backoff, then :class:`TransientFailure`. A timeout is ambiguous (Discord may have
posted the message), and is retried like the rest: at least once, never lost.

Rate-limit state is per process (posts to one webhook are serialised within it); a
second replica learns its limits from its own first answer, or from a 429.

The webhook token is a secret: logs and errors name a webhook by its id only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from shared.notify.errors import PermanentFailure, TransientFailure, WebhookGone

log = logging.getLogger("protostar.notify")

_WEBHOOK = re.compile(
    r"https://(?:discord\.com|discordapp\.com)/api/(?:v[0-9]{1,2}/)?webhooks/"
    r"(?P<id>[0-9]{1,25})/(?P<token>[A-Za-z0-9_-]{1,128})"
)
USER_AGENT = "Protostar-Notify/0.1"
_MAX_BUCKETS = 1024


@dataclass(frozen=True)
class Webhook:
    """A Discord webhook: its id (fine to log) and token (secret)."""

    id: str
    token: str

    @classmethod
    def parse(cls, url: str) -> Webhook:
        match = _WEBHOOK.fullmatch(url.strip())
        if match is None:
            raise PermanentFailure("not a Discord webhook URL")
        return cls(match["id"], match["token"])

    def __repr__(self) -> str:  # never the token
        return f"Webhook(id={self.id!r})"

    @property
    def label(self) -> str:
        return f"webhook {self.id}"


@dataclass
class _Bucket:
    lock: asyncio.Lock
    blocked_until: float = 0.0


def _float(value: str | None) -> float | None:
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    """Discord's ``{"message", "code"}`` of an error answer, short."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    message = str(body.get("message", ""))[:200]
    code = body.get("code")
    return f"{message} (code {code})" if code is not None else message


class DiscordWebhooks:
    """Executes webhooks through one HTTP client, keeping each webhook's rate limit."""

    def __init__(
        self,
        api_url: str = "https://discord.com/api",
        *,
        client: httpx.AsyncClient | None = None,
        max_wait: float = 30.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0), headers={"User-Agent": USER_AGENT}
        )
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._global_until = 0.0

    def _bucket(self, webhook: Webhook) -> _Bucket:
        bucket = self._buckets.get(webhook.id)
        if bucket is None:
            bucket = self._buckets[webhook.id] = _Bucket(asyncio.Lock())
            while len(self._buckets) > _MAX_BUCKETS:
                oldest, old = next(iter(self._buckets.items()))
                if old.lock.locked():
                    break
                del self._buckets[oldest]
        self._buckets.move_to_end(webhook.id)
        return bucket

    async def execute(self, webhook: Webhook, payload: dict[str, Any]) -> str:
        """Post one message; returns the id of the message Discord created."""
        bucket = self._bucket(webhook)
        async with bucket.lock:
            return await self._execute(webhook, payload, bucket)

    async def _wait_turn(self, webhook: Webhook, bucket: _Bucket) -> None:
        delay = max(bucket.blocked_until, self._global_until) - self._clock()
        if delay <= 0:
            return
        if delay > self.max_wait:
            raise TransientFailure(f"Discord rate limit on {webhook.label} for {delay:.1f}s")
        log.info(
            "waiting for the Discord rate limit",
            extra={"webhook_id": webhook.id, "wait_seconds": round(delay, 3)},
        )
        await self._sleep(delay)

    def _note_limits(self, bucket: _Bucket, response: httpx.Response) -> None:
        remaining = _float(response.headers.get("x-ratelimit-remaining"))
        reset_after = _float(response.headers.get("x-ratelimit-reset-after"))
        if remaining is not None and remaining < 1 and reset_after is not None:
            bucket.blocked_until = max(bucket.blocked_until, self._clock() + reset_after)

    def _retry_after(self, response: httpx.Response) -> tuple[float, bool]:
        """Seconds a 429 asks us to wait, and whether the limit is global."""
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        if isinstance(body, dict):
            seconds = _float(str(body.get("retry_after")))
            if seconds is not None:
                return seconds, bool(body.get("global"))
        for header in ("retry-after", "x-ratelimit-reset-after"):
            seconds = _float(response.headers.get(header))
            if seconds is not None:
                return seconds, response.headers.get("x-ratelimit-global") == "true"
        return 1.0, False

    async def _execute(self, webhook: Webhook, payload: dict[str, Any], bucket: _Bucket) -> str:
        url = f"{self.api_url}/webhooks/{webhook.id}/{webhook.token}"
        attempt = 0
        while True:
            attempt += 1
            await self._wait_turn(webhook, bucket)
            try:
                response = await self.client.post(url, params={"wait": "true"}, json=payload)
            except httpx.TransportError as exc:
                # No URL in the message: the token is part of it.
                problem = f"Discord unreachable ({type(exc).__name__})"
                await self._backoff_or_fail(webhook, attempt, problem)
                continue
            self._note_limits(bucket, response)
            status = response.status_code
            if status == 200:
                return self._message_id(response)
            if status == 204:  # a server that ignored wait=true: posted, no message object
                return ""
            if status == 429:
                seconds, is_global = self._retry_after(response)
                until = self._clock() + seconds
                if is_global:
                    self._global_until = max(self._global_until, until)
                bucket.blocked_until = max(bucket.blocked_until, until)
                log.warning(
                    "Discord rate limited a post",
                    extra={"webhook_id": webhook.id, "retry_after": seconds, "global": is_global},
                )
                if attempt >= self.max_attempts or seconds > self.max_wait:
                    raise TransientFailure(
                        f"Discord rate limit on {webhook.label}: retry after {seconds:.1f}s"
                    )
                continue
            detail = _error_text(response)
            if status == 404:
                raise WebhookGone(f"Discord: 404 {detail or 'Unknown Webhook'}", status)
            if status == 401:
                raise WebhookGone(f"Discord: 401 {detail or 'Invalid Webhook Token'}", status)
            if status >= 500 or status == 408:
                await self._backoff_or_fail(webhook, attempt, f"Discord answered {status}")
                continue
            raise PermanentFailure(f"Discord refused the message: {status} {detail}".strip())

    async def _backoff_or_fail(self, webhook: Webhook, attempt: int, problem: str) -> None:
        if attempt >= self.max_attempts:
            raise TransientFailure(f"{problem} after {attempt} attempts")
        delay = min(self.backoff * 2 ** (attempt - 1), self.max_wait)
        log.warning(problem, extra={"webhook_id": webhook.id, "retry_in": delay})
        await self._sleep(delay)

    @staticmethod
    def _message_id(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get("id", "")) if isinstance(body, dict) else ""

    async def aclose(self) -> None:
        await self.client.aclose()
