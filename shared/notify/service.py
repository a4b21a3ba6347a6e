"""The notify consumer: which event goes where, and one delivery per (event, channel).

Routing:

| event | channel |
|---|---|
| user.signed_up, user.role_changed | ``discord:operator`` |
| document.failed | ``discord:bot`` if the bot has a usable webhook, else (or when Discord
  says it is gone) ``discord:operator`` |
| digest.compiled | ``discord:bot``; ``email:owner`` with ``NOTIFY_DIGEST_EMAIL`` |
| password_reset.requested | ``email:user`` |

Each delivery runs under the ledger's lock for its key (see :mod:`shared.notify.ledger`);
a channel that is not configured writes the message to the log and records ``logged``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.db.unit import scope, unit_of_work
from shared.events.cloudevent import BadEvent, CloudEvent
from shared.notify import discord, ledger, messages
from shared.notify.errors import PermanentFailure, TransientFailure, WebhookGone
from shared.notify.mail import Mail, SmtpMailer
from shared.notify.messages import BotInfo, UserInfo
from shared.notify.webhook import DiscordWebhooks, Webhook
from shared.settings import Settings

log = logging.getLogger("protostar.notify")

USERNAME = "Protostar"
SIGNED_UP = "dev.protostar.user.signed_up"
ROLE_CHANGED = "dev.protostar.user.role_changed"
DOCUMENT_FAILED = "dev.protostar.document.failed"
DIGEST_COMPILED = "dev.protostar.digest.compiled"
PASSWORD_RESET = "dev.protostar.password_reset.requested"  # noqa: S105 - an event type
TYPES = frozenset({SIGNED_UP, ROLE_CHANGED, DOCUMENT_FAILED, DIGEST_COMPILED, PASSWORD_RESET})

_GONE_REASON = {
    404: "Discord says this webhook no longer exists (404 Unknown Webhook). "
    "Set a new webhook to get notifications again.",
    401: "Discord refused this webhook's token (401 Invalid Webhook Token). "
    "Set a new webhook to get notifications again.",
}


class Notifier:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        *,
        webhooks: DiscordWebhooks | None = None,
        mailer: SmtpMailer | None = None,
        lock_wait: float = 25.0,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.webhooks = webhooks or DiscordWebhooks(settings.discord_api_url)
        self.mailer = mailer
        self.lock_wait = lock_wait
        operator = settings.discord_operator_webhook
        self.operator_webhook = operator.get_secret_value() if operator is not None else None
        self.mail_domain = urlsplit(settings.public_base_url).hostname or "protostar.local"

    async def handle(self, event: CloudEvent) -> dict[str, str]:
        """Deliver ``event``'s notifications; returns each channel's outcome.

        Raises TransientFailure when a channel should be tried again later (the event
        then goes back to the broker); every other outcome is final and recorded.
        """
        handlers: dict[str, Callable[[CloudEvent, dict[str, Any]], Awaitable[dict[str, str]]]]
        handlers = {
            SIGNED_UP: self._signed_up,
            ROLE_CHANGED: self._role_changed,
            DOCUMENT_FAILED: self._document_failed,
            DIGEST_COMPILED: self._digest,
            PASSWORD_RESET: self._password_reset,
        }
        handler = handlers.get(event.type)
        if handler is None:
            raise BadEvent(f"notify does not consume {event.type}", code="unexpected_event_type")
        data = event.json()
        if not isinstance(data, dict):
            raise BadEvent(f"{event.type} data must be an object")
        return await handler(event, data)

    # ---------------------------------------------------------------- the events

    async def _signed_up(self, event: CloudEvent, data: dict[str, Any]) -> dict[str, str]:
        user = await self._user(data["user_id"])
        message = messages.signed_up(data, user, event.attributes.get("time"))
        outcome = await self._discord(event, "discord:operator", self.operator_webhook, message)
        return {"discord:operator": outcome}

    async def _role_changed(self, event: CloudEvent, data: dict[str, Any]) -> dict[str, str]:
        user = await self._user(data["user_id"])
        hint = await self._invite_hint(data.get("invite_id"))
        message = messages.role_changed(data, user, hint, event.attributes.get("time"))
        outcome = await self._discord(event, "discord:operator", self.operator_webhook, message)
        return {"discord:operator": outcome}

    async def _document_failed(self, event: CloudEvent, data: dict[str, Any]) -> dict[str, str]:
        bot, title = await self._bot_and_document(data["bot_id"], data["document_id"])
        message = messages.document_failed(data, bot, title, event.attributes.get("time"))
        outcomes: dict[str, str] = {}
        if bot is not None and bot.webhook:
            outcome = await self._discord(event, "discord:bot", bot.webhook, message, bot=bot)
            outcomes["discord:bot"] = outcome
            if outcome in ("sent", "logged"):
                return outcomes
        elif bot is not None:
            # A redelivery after the bot's webhook was disabled: what the first delivery
            # recorded for it still decides whether the operator gets it instead.
            previous = await self._recorded(event, "discord:bot")
            if previous == "sent":
                return {"discord:bot": previous}
        outcomes["discord:operator"] = await self._discord(
            event, "discord:operator", self.operator_webhook, message
        )
        return outcomes

    async def _digest(self, event: CloudEvent, data: dict[str, Any]) -> dict[str, str]:
        bot = await self._bot(data["bot_id"], owner_id=data["owner_id"])
        if bot is None:  # deleted since the digest was compiled: nobody to tell
            log.info("digest of a deleted bot dropped", extra={"bot_id": data["bot_id"]})
            return {"discord:bot": "skipped"}
        message = messages.digest_discord(data, event.attributes.get("time"))
        outcomes = {
            "discord:bot": await self._discord(event, "discord:bot", bot.webhook, message, bot=bot)
        }
        if self.settings.notify_digest_email:
            email = await self._email_of(data["owner_id"])
            if email is None:
                outcomes["email:owner"] = "skipped"
            else:
                mail = messages.digest_mail(data, email, self._message_id(event, "email:owner"))
                outcomes["email:owner"] = await self._mail(
                    event, "email:owner", data["owner_id"], mail
                )
        return outcomes

    async def _password_reset(self, event: CloudEvent, data: dict[str, Any]) -> dict[str, str]:
        user = await self._user(data["user_id"])
        mail = messages.password_reset(data, user, self._message_id(event, "email:user"))
        expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
        expired = (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= datetime.now(UTC)
        outcome = await self._mail(event, "email:user", data["user_id"], mail, expired=expired)
        return {"email:user": outcome}

    # ---------------------------------------------------------------- deliveries

    async def _recorded(self, event: CloudEvent, channel: str) -> str | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT status FROM notifications WHERE source = %s AND event_id = %s"
                " AND channel = %s",
                (event.source, event.id, channel),
            )
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def _discord(
        self,
        event: CloudEvent,
        channel: str,
        url: str | None,
        message: discord.DiscordMessage,
        *,
        bot: BotInfo | None = None,
    ) -> str:
        """Post ``message`` to the webhook at ``url`` (or log it when there is none)."""
        webhook = Webhook.parse(url) if url else None
        key = ledger.Key(event.source, event.id, channel)
        target = f"webhook:{webhook.id}" if webhook else ""
        extra = {"event_id": event.id, "event_type": event.type, "channel": channel}
        if bot is not None:
            extra["bot_id"] = bot.id
        async with ledger.exclusive(self.pool, key, wait=self.lock_wait):
            entry = await ledger.open_entry(self.pool, key, event.type, target)
            if entry.finished:
                log.info("notification already handled", extra={**extra, "status": entry.status})
                return entry.status
            if webhook is None:
                log.info(
                    "notification (no Discord webhook configured)",
                    extra={**extra, "text": message.text()[:4000]},
                )
                await ledger.finish(self.pool, key, "logged")
                return "logged"
            bodies = discord.payloads(message, username=USERNAME)
            try:
                for index in range(entry.parts_sent, len(bodies)):
                    message_id = await self.webhooks.execute(webhook, bodies[index])
                    await ledger.progress(
                        self.pool, key, parts_total=len(bodies), remote_id=message_id
                    )
            except WebhookGone as exc:
                if bot is not None:
                    await self._disable_webhook(bot, url or "", exc.status)
                await ledger.finish(self.pool, key, "failed", error=exc.message)
                log.warning(
                    "Discord webhook is gone",
                    extra={**extra, "webhook_id": webhook.id, "reason": exc.message},
                )
                return "failed"
            except PermanentFailure as exc:
                await ledger.finish(self.pool, key, "failed", error=exc.message)
                log.warning(
                    "notification refused",
                    extra={**extra, "webhook_id": webhook.id, "reason": exc.message},
                )
                return "failed"
            except TransientFailure as exc:
                await ledger.note_error(self.pool, key, exc.message)
                raise
            await ledger.finish(self.pool, key, "sent")
        log.info(
            "notification sent",
            extra={**extra, "webhook_id": webhook.id, "messages": len(bodies)},
        )
        return "sent"

    async def _mail(
        self, event: CloudEvent, channel: str, user_id: str, mail: Mail, *, expired: bool = False
    ) -> str:
        key = ledger.Key(event.source, event.id, channel)
        extra = {
            "event_id": event.id,
            "event_type": event.type,
            "channel": channel,
            "user_id": user_id,
        }
        async with ledger.exclusive(self.pool, key, wait=self.lock_wait):
            entry = await ledger.open_entry(self.pool, key, event.type, f"user:{user_id}")
            if entry.finished:
                log.info("notification already handled", extra={**extra, "status": entry.status})
                return entry.status
            if expired:
                await ledger.finish(
                    self.pool, key, "failed", error="expired before it could be sent"
                )
                log.warning("mail not sent: its link has expired", extra=extra)
                return "failed"
            if self.mailer is None:
                reveal = self.settings.protostar_env == "local"
                log.info(
                    "mail (no SMTP configured)",
                    extra={
                        **extra,
                        "subject": mail.subject,
                        "text": mail.logged_text(reveal=reveal),
                    },
                )
                await ledger.finish(self.pool, key, "logged")
                return "logged"
            try:
                reply = await self.mailer.send(mail)
            except PermanentFailure as exc:
                await ledger.finish(self.pool, key, "failed", error=exc.message)
                log.warning("mail refused", extra={**extra, "reason": exc.message})
                return "failed"
            except TransientFailure as exc:
                await ledger.note_error(self.pool, key, exc.message)
                raise
            await ledger.finish(self.pool, key, "sent")
        log.info("mail sent", extra={**extra, "reply": reply})
        return "sent"

    def _message_id(self, event: CloudEvent, channel: str) -> str:
        return messages.message_id(event.id, channel, self.mail_domain)

    # ---------------------------------------------------------------- look-ups

    async def _user(self, user_id: str) -> UserInfo:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT display_name, locale FROM users WHERE id = %s", (user_id,)
            )
            row = await cur.fetchone()
        if row is None:  # deleted since: still worth telling, by id
            return UserInfo(user_id)
        return UserInfo(user_id, row[0], row[1])

    async def _email_of(self, user_id: str) -> str | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT email FROM users WHERE id = %s", (user_id,))
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def _invite_hint(self, invite_id: object) -> str | None:
        if not isinstance(invite_id, str):
            return None
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT hint FROM invites WHERE id = %s", (invite_id,))
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def _owner_of(self, bot_id: str) -> str | None:
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT bot_owner_id(%s)", (bot_id,))
            row = await cur.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    async def _bot(self, bot_id: str, *, owner_id: str | None = None) -> BotInfo | None:
        bot, _ = await self._bot_and_document(bot_id, None, owner_id=owner_id)
        return bot

    async def _bot_and_document(
        self, bot_id: str, document_id: str | None, *, owner_id: str | None = None
    ) -> tuple[BotInfo | None, str | None]:
        """The bot (None once deleted), read as its owner, and a document's title."""
        owner = owner_id or await self._owner_of(bot_id)
        if owner is None:
            return None, None
        async with self.pool.connection() as conn, conn.transaction():
            await scope(conn, user=owner)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, owner_id, slug, name, language, discord_webhook,"
                " discord_webhook_disabled_at FROM bots WHERE id = %s AND owner_id = %s",
                (bot_id, owner),
            )
            row = await cur.fetchone()
            title: str | None = None
            if row is not None and document_id is not None:
                doc = await conn.execute(
                    "SELECT title, filename FROM documents WHERE id = %s AND bot_id = %s",
                    (document_id, bot_id),
                )
                found = await doc.fetchone()
                title = (found[0] or found[1]) if found else None
        if row is None:
            return None, None
        return (
            BotInfo(
                id=str(row["id"]),
                owner_id=str(row["owner_id"]),
                slug=row["slug"],
                name=row["name"],
                language=row["language"],
                discord_webhook=row["discord_webhook"],
                webhook_disabled=row["discord_webhook_disabled_at"] is not None,
            ),
            title,
        )

    async def _disable_webhook(self, bot: BotInfo, url: str, status: int) -> None:
        """Stop using the bot's webhook and tell its owner why (unless it was changed)."""
        reason = _GONE_REASON.get(status, f"Discord answered {status} for this webhook.")
        async with unit_of_work(self.pool, user=bot.owner_id) as uow:
            cur = await uow.conn.execute(
                "UPDATE bots SET discord_webhook_disabled_at = now(),"
                " discord_webhook_disabled_reason = %s"
                " WHERE id = %s AND owner_id = %s AND discord_webhook = %s"
                " AND discord_webhook_disabled_at IS NULL",
                (reason, bot.id, bot.owner_id, url),
            )
        if cur.rowcount:
            log.warning(
                "bot's Discord webhook disabled",
                extra={"bot_id": bot.id, "user_id": bot.owner_id, "status": status},
            )


async def notifier_from(
    pool: AsyncConnectionPool, settings: Settings, webhooks: DiscordWebhooks | None = None
) -> Notifier:
    return Notifier(pool, settings, webhooks=webhooks, mailer=SmtpMailer.from_settings(settings))
