"""The field rules of a bot, without I/O: normalisation and refusals."""

from __future__ import annotations

import pytest

from shared.bots import validation
from shared.bots.contracts import BotSettings, NewBot
from shared.errors import BadRequest


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("https://blog.example.com", "https://blog.example.com"),
        ("https://Blog.Example.COM/", "https://blog.example.com"),
        ("HTTPS://blog.example.com:443", "https://blog.example.com"),
        ("http://blog.example.com:80", "http://blog.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://blog.example.com:8443", "https://blog.example.com:8443"),
        ("  https://blog.example.com  ", "https://blog.example.com"),
        ("https://한국.kr", "https://xn--3e0b707e.kr"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("https://[::1]:443", "https://[::1]"),
    ],
)
def test_origins_are_normalised_as_browsers_send_them(raw: str, origin: str) -> None:
    assert validation.origin(raw) == origin


@pytest.mark.parametrize(
    "raw",
    [
        "null",
        "NULL",
        "*",
        "https://*.example.com",
        "https://blog.example.com/path",
        "https://blog.example.com/blog/",
        "https://blog.example.com?x=1",
        "https://blog.example.com?",
        "https://blog.example.com#top",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "ftp://blog.example.com",
        "ws://blog.example.com",
        "blog.example.com",
        "//blog.example.com",
        "http:/blog.example.com",
        "https://user:pw@blog.example.com",
        "https://blog.example.com:0",
        "https://blog.example.com:99999",
        "https://blog..example.com",
        "https://blog.example.com.",
        "https://blog_example.com",
        "https://-blog.example.com",
        "https://%62log.example.com",
        "https://1.2.3",
        "https://blog example.com",
        "https://blog.example.com\\@evil.com",
        "",
        "https://" + "a" * 300 + ".com",
    ],
)
def test_anything_but_an_exact_http_origin_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        validation.origin(raw)
    assert caught.value.code == "invalid_origin"


def test_duplicate_origins_collapse_after_normalisation() -> None:
    assert validation.allowed_origins(
        ["https://a.example.com", "https://A.example.com/", "https://a.example.com:443"]
    ) == ["https://a.example.com"]


@pytest.mark.parametrize(
    "slug", ["abc", "jane-doe", "a1b", "x" * 40, "0-9", "career-bot-2025", "a-b-c"]
)
def test_good_slugs(slug: str) -> None:
    assert validation.slug(slug) == slug


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("ab", "invalid_slug"),
        ("x" * 41, "invalid_slug"),
        ("-abc", "invalid_slug"),
        ("abc-", "invalid_slug"),
        ("ab--cd", "invalid_slug"),
        ("xn--abc", "invalid_slug"),
        ("Jane", "invalid_slug"),
        ("jane_doe", "invalid_slug"),
        ("jane.doe", "invalid_slug"),
        ("jane doe", "invalid_slug"),
        ("제인", "invalid_slug"),
        ("abc\n", "invalid_slug"),
        (None, "invalid_slug"),
        (123, "invalid_slug"),
        ("api", "reserved_slug"),
        ("admin", "reserved_slug"),
        ("www", "reserved_slug"),
        ("dashboard", "reserved_slug"),
    ],
)
def test_bad_slugs(slug: object, code: str) -> None:
    with pytest.raises(BadRequest) as caught:
        validation.slug(slug)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/123456789012345678/abcDEF_123-xyz",
        "https://discordapp.com/api/webhooks/1/t",
        "https://discord.com/api/v10/webhooks/123456789012345678/abc",
    ],
)
def test_discord_webhooks(url: str) -> None:
    from shared.settings import Settings

    assert validation.discord_webhook(url) == url
    operator = Settings(discord_operator_webhook=url).discord_operator_webhook
    assert operator is not None
    assert operator.get_secret_value() == url  # one pattern for bots and the operator


@pytest.mark.parametrize(
    "url",
    [
        "http://discord.com/api/webhooks/1/t",
        "https://discord.com.evil.example/api/webhooks/1/t",
        "https://evil.example/discord.com/api/webhooks/1/t",
        "https://discord.com/api/webhooks/abc/t",
        "https://discord.com/api/webhooks/1/t?wait=true",
        "https://discord.com/api/webhooks/1/t/extra",
        "https://discord.com/api/webhooks/1/",
        "https://user@discord.com/api/webhooks/1/t",
        "https://slack.com/api/webhooks/1/t",
        123,
    ],
)
def test_bad_discord_webhooks(url: object) -> None:
    with pytest.raises(BadRequest) as caught:
        validation.discord_webhook(url)
    assert caught.value.code == "invalid_discord_webhook"
    if isinstance(url, str):  # the operator's webhook setting reads URLs the same way
        from shared.settings import Settings

        with pytest.raises(ValueError, match="webhook"):
            Settings(discord_operator_webhook=url)


def test_empty_webhook_means_none() -> None:
    assert validation.discord_webhook("") is None
    assert validation.discord_webhook(None) is None


def test_text_fields_are_trimmed_and_bounded() -> None:
    assert validation.name("  Jane   Doe's  bot ") == "Jane Doe's bot"
    assert validation.greeting(" 안녕하세요!\r\n무엇이든 물어보세요. ") == (
        "안녕하세요!\n무엇이든 물어보세요."
    )
    assert validation.persona("x" * validation.PERSONA_MAX) == "x" * validation.PERSONA_MAX
    for bad, rule in [
        ("x" * (validation.NAME_MAX + 1), validation.name),
        ("   ", validation.name),
        ("a\x00b", validation.name),
        ("x" * (validation.PERSONA_MAX + 1), validation.persona),
        ("x" * (validation.GREETING_MAX + 1), validation.greeting),
        ("bell\x07", validation.greeting),
    ]:
        with pytest.raises(BadRequest):
            rule(bad)


def test_suggested_questions() -> None:
    assert validation.suggested_questions(["  Has she run   Kubernetes? ", "왜 RabbitMQ?"]) == [
        "Has she run Kubernetes?",
        "왜 RabbitMQ?",
    ]
    for bad in [
        ["q"] * 7,
        [f"q{i}" for i in range(7)],
        ["x" * 201],
        [""],
        [1],
        ["same", "same"],
        "not a list",
    ]:
        with pytest.raises(BadRequest) as caught:
            validation.suggested_questions(bad)
        assert caught.value.code == "invalid_suggested_questions"


def test_patch_cannot_rename_or_touch_read_only_fields() -> None:
    with pytest.raises(BadRequest) as caught:
        BotSettings.parse({"slug": "new-name"}).changes("old-name")
    assert caught.value.code == "immutable_field"
    unchanged = BotSettings.parse({"slug": "old-name", "name": " N "})
    assert unchanged.changes("old-name") == {"name": "N"}
    for field in ("id", "owner_id", "created_at", "updated_at", "unknown"):
        with pytest.raises(BadRequest) as caught:
            BotSettings.parse({field: "x"})
        assert caught.value.code == "invalid_field"
        assert caught.value.details["field"] == field


def test_null_clears_a_text_field_but_not_a_required_one() -> None:
    assert BotSettings.parse({"persona": None, "allowed_origins": None}).changes("b0t") == {
        "persona": "",
        "allowed_origins": [],
    }
    for field in ("name", "language", "discoverable"):
        with pytest.raises(BadRequest) as caught:
            BotSettings.parse({field: None})
        assert caught.value.code == f"invalid_{field}"


def test_a_new_bot_takes_the_defaults() -> None:
    values = NewBot.parse({"slug": "jane-doe", "name": "Jane"}).values()
    assert values == {
        "slug": "jane-doe",
        "name": "Jane",
        "persona": "",
        "greeting": "",
        "suggested_questions": [],
        "language": "auto",
        "allowed_origins": [],
        "discoverable": False,
        "discord_webhook": None,
    }
