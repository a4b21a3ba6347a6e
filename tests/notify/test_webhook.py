"""The webhook client against the fake Discord: wait=true, rate limits honoured (the
gaps are measured on the server's clock), deleted webhooks, retries of 5xx."""

from __future__ import annotations

import pytest

from shared.notify.discord import DiscordMessage, payloads
from shared.notify.errors import PermanentFailure, TransientFailure, WebhookGone
from shared.notify.webhook import DiscordWebhooks, Webhook
from tests.notify.fake_discord import FakeDiscord


@pytest.fixture
async def client(discord: FakeDiscord):  # type: ignore[no-untyped-def]
    webhooks = DiscordWebhooks(discord.url, backoff=0.05)
    yield webhooks
    await webhooks.aclose()


def hook(discord: FakeDiscord, webhook_id: str = "123456789012345678") -> Webhook:
    return Webhook.parse(discord.add_webhook(webhook_id, "tok_en-1"))


async def test_wait_true_returns_the_created_message_id(
    discord: FakeDiscord, client: DiscordWebhooks
) -> None:
    webhook = hook(discord)
    (body,) = payloads(DiscordMessage(content="hello @everyone"))
    message_id = await client.execute(webhook, body)
    (seen,) = discord.requests
    assert seen.wait is True
    assert seen.status == 200
    (stored,) = discord.received(webhook.id)
    assert message_id == stored["id"] != ""
    assert stored["allowed_mentions"] == {"parse": []}


async def test_429_is_retried_after_retry_after(
    discord: FakeDiscord, client: DiscordWebhooks
) -> None:
    webhook = hook(discord)
    discord.rate_limit_next(0.6)
    await client.execute(webhook, {"content": "after the wait", "allowed_mentions": {"parse": []}})
    first, second = discord.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.6
    assert len(discord.received()) == 1


async def test_an_exhausted_bucket_is_waited_for_instead_of_earning_a_429(
    discord: FakeDiscord, client: DiscordWebhooks
) -> None:
    discord.limit, discord.window = 2, 0.8
    webhook = hook(discord)
    for i in range(5):
        await client.execute(webhook, {"content": f"m{i}", "allowed_mentions": {"parse": []}})
    statuses = [r.status for r in discord.requests]
    assert statuses == [200] * 5  # never rate limited: it waited when Remaining was 0
    times = [r.at for r in discord.requests]
    # Posts 3 and 5 start new windows: each waited for the reset the headers announced.
    assert times[2] - times[0] >= 0.8 - 0.01
    assert times[4] - times[2] >= 0.8 - 0.01


async def test_a_long_wait_goes_back_to_the_broker(discord: FakeDiscord) -> None:
    webhooks = DiscordWebhooks(discord.url, max_wait=0.5)
    webhook = hook(discord)
    discord.rate_limit_next(5.0)
    with pytest.raises(TransientFailure, match=r"retry after 5\.0s"):
        await webhooks.execute(webhook, {"content": "x"})
    # The next post in this process waits for that limit too: it refuses at once.
    with pytest.raises(TransientFailure, match="rate limit"):
        await webhooks.execute(webhook, {"content": "y"})
    assert len(discord.requests) == 1
    await webhooks.aclose()


async def test_deleted_and_wrong_token_webhooks_are_gone(
    discord: FakeDiscord, client: DiscordWebhooks
) -> None:
    webhook = hook(discord)
    discord.delete(webhook.id)
    with pytest.raises(WebhookGone) as gone:
        await client.execute(webhook, {"content": "x"})
    assert gone.value.status == 404
    assert "Unknown Webhook" in gone.value.message
    other = hook(discord, "223456789012345678")
    with pytest.raises(WebhookGone) as bad:
        await client.execute(Webhook(other.id, "not-the-token"), {"content": "x"})
    assert bad.value.status == 401
    assert "not-the-token" not in bad.value.message
    assert discord.received() == []


async def test_server_errors_are_retried_then_transient(
    discord: FakeDiscord, client: DiscordWebhooks
) -> None:
    webhook = hook(discord)
    discord.fail_next(502)
    await client.execute(webhook, {"content": "second time lucky"})
    assert [r.status for r in discord.requests] == [502, 200]
    for _ in range(5):
        discord.fail_next(500)
    with pytest.raises(TransientFailure, match="500 after 5 attempts"):
        await client.execute(webhook, {"content": "never"})


async def test_a_refused_body_is_permanent(discord: FakeDiscord, client: DiscordWebhooks) -> None:
    webhook = hook(discord)
    with pytest.raises(PermanentFailure, match="400 Invalid Form Body"):
        await client.execute(webhook, {"content": "x" * 2001})


def test_the_token_never_shows() -> None:
    webhook = Webhook.parse("https://discord.com/api/webhooks/42/s3cret-token")
    assert "s3cret" not in repr(webhook)
    assert "s3cret" not in webhook.label
    with pytest.raises(PermanentFailure):
        Webhook.parse("https://evil.example/api/webhooks/42/s3cret-token")
