"""The notify consumer on real PostgreSQL (app role, row-level security), the fake
Discord and a real SMTP server: routing, one message per event under redelivery (also
concurrent), permanent failures recorded, a gone webhook disabled and shown to its owner.
"""

from __future__ import annotations

import asyncio
import email
import logging
import uuid
from datetime import UTC, datetime, timedelta
from email import policy
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from shared.accounts.principal import Principal
from shared.bots.contracts import BotSettings
from shared.bots.service import BotService
from shared.events.cloudevent import CloudEvent, new_event
from shared.notify.errors import TransientFailure
from shared.notify.mail import SmtpMailer
from shared.notify.service import Notifier
from shared.notify.webhook import DiscordWebhooks
from tests.conftest import Database
from tests.notify.conftest import (
    OPERATOR_ID,
    OPERATOR_TOKEN,
    Smtp,
    ledger_rows,
    new_bot,
    new_user,
    settings,
    superuser,
)
from tests.notify.fake_discord import FakeDiscord

SOURCE = "/protostar/tests"


def event(type_: str, data: dict[str, Any]) -> CloudEvent:
    return new_event(f"dev.protostar.{type_}", SOURCE, data)


def notifier(
    pool: AsyncConnectionPool,
    discord: FakeDiscord,
    *,
    operator: bool = True,
    smtp: Smtp | None = None,
    **overrides: Any,
) -> Notifier:
    if operator:
        overrides["discord_operator_webhook"] = discord.add_webhook(OPERATOR_ID, OPERATOR_TOKEN)
    s = settings(discord.url, **overrides)
    mailer = None
    if smtp is not None:
        mailer = SmtpMailer(
            smtp.host, smtp.port, sender="p@protostar.test", starttls=False, backoff=0.3
        )
    return Notifier(
        pool, s, webhooks=DiscordWebhooks(discord.url, backoff=0.05), mailer=mailer, lock_wait=5
    )


def owner_principal(user_id: str) -> Principal:
    return Principal(subject=user_id, role="protostar")


# ------------------------------------------------------------------ operator messages


async def test_signup_goes_to_the_operator_once_even_when_redelivered(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    n = notifier(pool, discord)
    user_id = new_user(pg)
    e = event("user.signed_up", {"user_id": user_id, "role": "stargazer"})
    assert await n.handle(e) == {"discord:operator": "sent"}
    assert await n.handle(e) == {"discord:operator": "sent"}  # the redelivery: nothing new
    (message,) = discord.received(OPERATOR_ID)
    (embed,) = message["embeds"]
    assert embed["title"] == "New signup"
    assert user_id in str(embed["fields"])
    assert "example.com" not in str(message)  # no email address to Discord
    assert message["allowed_mentions"] == {"parse": []}
    status, parts_sent, parts_total, remote, attempts, error, target = ledger_rows(pg, e.id)[
        "discord:operator"
    ]
    assert (status, parts_sent, parts_total, remote, error) == ("sent", 1, 1, 1, None)
    assert attempts == 1  # a finished row is not even re-opened
    assert target == f"webhook:{OPERATOR_ID}"
    assert OPERATOR_TOKEN not in target


async def test_concurrent_redeliveries_send_one_message(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    n = notifier(pool, discord)
    discord.rate_limit_next(0.3)  # keep the first delivery busy while the others arrive
    e = event("user.signed_up", {"user_id": new_user(pg), "role": "stargazer"})
    results = await asyncio.gather(*(n.handle(e) for _ in range(4)))
    assert all(r == {"discord:operator": "sent"} for r in results)
    assert len(discord.received(OPERATOR_ID)) == 1


async def test_invite_redemption_names_the_invite(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    n = notifier(pool, discord)
    user_id = new_user(pg, role="protostar")
    (invite,) = superuser(
        pg,
        "INSERT INTO invites (code_hash, hint, expires_at) VALUES (%s, 'PS-AB', now() + '1 day')"
        " RETURNING id::text",
        uuid.uuid4().bytes,
    )
    e = event(
        "user.role_changed",
        {
            "user_id": user_id,
            "role": "protostar",
            "previous_role": "stargazer",
            "via": "invite",
            "invite_id": invite[0],
        },
    )
    assert await n.handle(e) == {"discord:operator": "sent"}
    (embed,) = discord.received(OPERATOR_ID)[0]["embeds"]
    assert embed["title"] == "Invite redeemed"
    assert {"name": "Invite", "value": "`PS-AB`", "inline": True} in embed["fields"]


async def test_without_a_webhook_the_message_is_logged_once(
    pool: AsyncConnectionPool,
    pg: Database,
    discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    n = notifier(pool, discord, operator=False)
    user_id = new_user(pg)
    e = event("user.signed_up", {"user_id": user_id, "role": "stargazer"})
    with caplog.at_level(logging.INFO, logger="protostar.notify"):
        assert await n.handle(e) == {"discord:operator": "logged"}
        assert await n.handle(e) == {"discord:operator": "logged"}
    logged = [r for r in caplog.records if r.getMessage().startswith("notification (no Discord")]
    assert len(logged) == 1
    assert user_id in logged[0].text  # type: ignore[attr-defined]
    assert discord.requests == []


# ------------------------------------------------------------------ a bot's webhook


async def test_document_failed_goes_to_the_bots_webhook(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    n = notifier(pool, discord)
    owner = new_user(pg, role="protostar")
    url = discord.add_webhook("310000000000000001", "bot-token")
    bot_id, slug = new_bot(pg, owner, url)
    e = event(
        "document.failed",
        {"document_id": str(uuid.uuid4()), "bot_id": bot_id, "reason": "no text in **this** PDF"},
    )
    assert await n.handle(e) == {"discord:bot": "sent"}
    (message,) = discord.received("310000000000000001")
    (embed,) = message["embeds"]
    assert embed["title"] == "Document failed"
    assert embed["description"] == "no text in \\*\\*this\\*\\* PDF"
    assert slug in str(embed["fields"])
    assert discord.received(OPERATOR_ID) == []


async def test_a_deleted_webhook_is_disabled_shown_to_the_owner_and_cleared_by_a_new_one(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    n = notifier(pool, discord)
    owner = new_user(pg, role="protostar")
    url = discord.add_webhook("320000000000000001", "bot-token")
    bot_id, slug = new_bot(pg, owner, url)
    discord.delete("320000000000000001")
    e = event(
        "document.failed", {"document_id": str(uuid.uuid4()), "bot_id": bot_id, "reason": "bad"}
    )
    # The bot's webhook is gone: disabled, and the operator is told instead.
    assert await n.handle(e) == {"discord:bot": "failed", "discord:operator": "sent"}
    rows = ledger_rows(pg, e.id)
    assert rows["discord:bot"][0] == "failed"
    assert "404" in rows["discord:bot"][5]
    bots = BotService(pool)
    view = (await bots.get(owner_principal(owner), slug)).owner_view()
    assert view["discord_webhook"] == url
    assert view["discord_webhook_disabled_at"] is not None
    assert "no longer exists" in view["discord_webhook_disabled_reason"]

    # A redelivery changes nothing; the next failure skips the disabled webhook.
    assert await n.handle(e) == {"discord:operator": "sent"}
    later = event(
        "document.failed", {"document_id": str(uuid.uuid4()), "bot_id": bot_id, "reason": "2nd"}
    )
    assert await n.handle(later) == {"discord:operator": "sent"}
    gone_posts = [r for r in discord.requests if r.webhook_id == "320000000000000001"]
    assert len(gone_posts) == 1
    assert len(discord.received(OPERATOR_ID)) == 2

    # The owner sets a new webhook: the disabled state is cleared, and it is used again.
    new_url = discord.add_webhook("330000000000000001", "new-token")
    changed = await bots.update(
        owner_principal(owner), slug, BotSettings.parse({"discord_webhook": new_url})
    )
    assert changed.owner_view()["discord_webhook_disabled_at"] is None
    assert changed.owner_view()["discord_webhook_disabled_reason"] is None
    third = event(
        "document.failed", {"document_id": str(uuid.uuid4()), "bot_id": bot_id, "reason": "3rd"}
    )
    assert await n.handle(third) == {"discord:bot": "sent"}
    assert len(discord.received("330000000000000001")) == 1


async def test_a_webhook_changed_meanwhile_is_not_disabled(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    """Disabling names the webhook that failed: a new one set meanwhile stays on."""
    n = notifier(pool, discord)
    owner = new_user(pg, role="protostar")
    old = discord.add_webhook("340000000000000001", "old")
    bot_id, _ = new_bot(pg, owner, old)
    bot = await n._bot(bot_id)
    assert bot is not None
    new = discord.add_webhook("340000000000000002", "new")
    superuser(pg, "UPDATE bots SET discord_webhook = %s WHERE id = %s", new, bot_id)
    await n._disable_webhook(bot, old, 404)
    assert superuser(pg, "SELECT discord_webhook_disabled_at FROM bots WHERE id = %s", bot_id) == [
        (None,)
    ]


async def test_a_long_digest_is_split_within_limits_and_resumes_where_it_stopped(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    n = notifier(pool, discord)
    owner = new_user(pg, role="protostar")
    url = discord.add_webhook("350000000000000001", "bot-token")
    bot_id, slug = new_bot(pg, owner, url)
    data = {
        "bot_id": bot_id,
        "bot_slug": slug,
        "bot_name": "Jane's bot",
        "owner_id": owner,
        "day": "2026-03-01",
        "questions": 41,
        "unanswered": 3,
        "feedback_up": 5,
        "feedback_down": 1,
        "top_questions": [{"question": "Kubernetes? " * 160, "count": 9 - i} for i in range(5)],
    }
    e = event("digest.compiled", data)
    assert await n.handle(e) == {"discord:bot": "sent"}
    (message,) = discord.received("350000000000000001")
    (embed,) = message["embeds"]
    assert embed["title"] == "Jane's bot: daily digest for 2026-03-01"
    assert len(embed["description"]) <= 4096
    assert {f["name"]: f["value"] for f in embed["fields"]}["Questions"] == "41"
    assert all(r.status == 200 for r in discord.requests)  # the fake found no limit broken


async def test_a_multi_message_notification_resumes_after_the_last_accepted_part(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord
) -> None:
    """A crash (here: an outage) after part 1 of 3: the redelivery sends parts 2 and 3."""
    from shared.notify import discord as dmsg

    n = notifier(pool, discord)
    e = event("user.signed_up", {"user_id": new_user(pg), "role": "stargazer"})
    long = dmsg.DiscordMessage(content=("line of text " * 12 + "\n") * 30)  # ~4,700 chars
    assert len(dmsg.payloads(long)) == 3
    operator = n.operator_webhook
    # Part 1 goes through, then Discord is down for longer than the client retries.
    original = n.webhooks.execute
    calls = 0

    async def flaky(webhook: Any, body: dict[str, Any]) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TransientFailure("Discord answered 503 after 5 attempts")
        return await original(webhook, body)

    n.webhooks.execute = flaky  # type: ignore[method-assign]
    with pytest.raises(TransientFailure):
        await n._discord(e, "discord:operator", operator, long)
    assert ledger_rows(pg, e.id)["discord:operator"][:2] == ("sending", 1)
    assert "503" in ledger_rows(pg, e.id)["discord:operator"][5]
    assert await n._discord(e, "discord:operator", operator, long) == "sent"
    contents = [m["content"] for m in discord.received(OPERATOR_ID)]
    assert contents == [p["content"] for p in dmsg.payloads(long)]  # each part once, in order
    status, parts_sent, parts_total, remote, attempts, _, _ = ledger_rows(pg, e.id)[
        "discord:operator"
    ]
    assert (status, parts_sent, parts_total, remote, attempts) == ("sent", 3, 3, 3, 2)


# ------------------------------------------------------------------ mail


def reset_data(user_id: str, *, minutes: int = 30) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    return {
        "user_id": user_id,
        "email": f"reset-{user_id[:8]}@example.com",
        "reset_url": f"http://protostar.test/reset#token=SECRET{user_id[:8]}",
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
    }


async def test_password_reset_451_then_250_is_one_mail_even_when_redelivered(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord, smtp: Smtp
) -> None:
    n = notifier(pool, discord, smtp=smtp)
    user_id = new_user(pg, locale="ko")
    data = reset_data(user_id)
    smtp.handler.script.append("451 4.7.1 Greylisted, try again")
    e = event("password_reset.requested", data)
    assert await n.handle(e) == {"email:user": "sent"}
    assert await n.handle(e) == {"email:user": "sent"}
    (mail,) = smtp.handler.received
    assert mail.rcpt_tos == [data["email"]]
    assert smtp.handler.attempts[1] - smtp.handler.attempts[0] >= 0.3
    text = mail.data.decode()
    assert "Message-ID: <" in text
    assert e.id in text
    row = ledger_rows(pg, e.id)["email:user"]
    assert row[0] == "sent"
    assert row[6] == f"user:{user_id}"
    # Nothing of the link or the address is stored with the record.
    stored = str(superuser(pg, "SELECT * FROM notifications WHERE event_id = %s", e.id))
    assert "SECRET" not in stored
    assert "example.com" not in stored


async def test_550_is_recorded_acknowledged_and_never_retried(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord, smtp: Smtp
) -> None:
    n = notifier(pool, discord, smtp=smtp)
    data = reset_data(new_user(pg))
    smtp.handler.script.append(f"550 5.1.1 <{data['email']}>: Recipient address rejected")
    e = event("password_reset.requested", data)
    assert await n.handle(e) == {"email:user": "failed"}
    assert await n.handle(e) == {"email:user": "failed"}
    assert len(smtp.handler.attempts) == 1
    status, *_, error, _ = ledger_rows(pg, e.id)["email:user"]
    assert status == "failed"
    assert "550" in error
    assert data["email"] not in error


async def test_a_mail_that_keeps_getting_4xx_goes_back_to_the_broker(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord, smtp: Smtp
) -> None:
    n = notifier(pool, discord, smtp=smtp)
    assert n.mailer is not None
    n.mailer.attempts, n.mailer.backoff = 2, 0.05
    e = event("password_reset.requested", reset_data(new_user(pg)))
    smtp.handler.script.extend(["421 4.3.2 Service shutting down"] * 2)
    with pytest.raises(TransientFailure):
        await n.handle(e)
    assert ledger_rows(pg, e.id)["email:user"][0] == "sending"
    # The broker's redelivery, once the server is back: one mail.
    assert await n.handle(e) == {"email:user": "sent"}
    assert len(smtp.handler.received) == 1


async def test_an_expired_link_is_not_mailed(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord, smtp: Smtp
) -> None:
    n = notifier(pool, discord, smtp=smtp)
    e = event("password_reset.requested", reset_data(new_user(pg), minutes=-1))
    assert await n.handle(e) == {"email:user": "failed"}
    assert smtp.handler.attempts == []
    assert ledger_rows(pg, e.id)["email:user"][5] == "expired before it could be sent"


@pytest.mark.parametrize(("env", "revealed"), [("production", False), ("local", True)])
async def test_without_smtp_the_reset_link_is_logged_only_locally(
    pool: AsyncConnectionPool,
    pg: Database,
    discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
    env: str,
    revealed: bool,
) -> None:
    n = notifier(pool, discord, protostar_env=env)
    data = reset_data(new_user(pg, locale="en"))
    with caplog.at_level(logging.INFO, logger="protostar.notify"):
        assert await n.handle(event("password_reset.requested", data)) == {"email:user": "logged"}
    everything = "\n".join(str(r.__dict__) for r in caplog.records)
    assert (data["reset_url"] in everything) is revealed
    assert data["email"] not in everything
    (record,) = [r for r in caplog.records if r.getMessage() == "mail (no SMTP configured)"]
    assert record.subject == "Reset your Protostar password"  # type: ignore[attr-defined]
    if not revealed:
        assert "[withheld]" in record.text  # type: ignore[attr-defined]


async def test_the_digest_is_mailed_to_the_owner_when_asked(
    pool: AsyncConnectionPool, pg: Database, discord: FakeDiscord, smtp: Smtp
) -> None:
    n = notifier(pool, discord, smtp=smtp, notify_digest_email=True)
    owner = new_user(pg, role="protostar")
    bot_id, slug = new_bot(pg, owner, None)  # no webhook: the Discord side is logged
    data = {
        "bot_id": bot_id,
        "bot_slug": slug,
        "bot_name": "Mail bot",
        "owner_id": owner,
        "day": "2026-03-02",
        "questions": 2,
        "unanswered": 0,
        "feedback_up": 0,
        "feedback_down": 0,
        "top_questions": [{"question": "RabbitMQ를 왜 골랐나요?", "count": 2}],
    }
    e = event("digest.compiled", data)
    assert await n.handle(e) == {"discord:bot": "logged", "email:owner": "sent"}
    (mail,) = smtp.handler.received
    assert mail.rcpt_tos == [f"u-{owner[:8]}@example.com"]
    parsed = email.message_from_bytes(mail.data, policy=policy.default)
    assert parsed["Subject"] == "[Protostar] Mail bot: 2 questions on 2026-03-02"
    assert "1. RabbitMQ를 왜 골랐나요? ×2" in parsed.get_content()
