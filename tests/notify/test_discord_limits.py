"""Discord's limits, applied before anything is posted: content split, embeds trimmed
and packed, mentions disabled. (Posting them to the fake, which refuses what breaks a
limit, is in test_webhook.py.)"""

from __future__ import annotations

from shared.notify.discord import (
    CONTENT_MAX,
    DiscordMessage,
    Embed,
    EmbedField,
    escape_markdown,
    length,
    payloads,
    split_content,
)
from tests.notify.fake_discord import FakeDiscord


def words(n: int) -> str:
    text = " ".join(f"word{i:04d}" for i in range(n))
    return text


def test_a_5000_character_message_splits_into_three_whole_pieces() -> None:
    text = words(10_000)[:5000]
    assert len(text) == 5000
    bodies = payloads(DiscordMessage(content=text))
    assert len(bodies) == 3
    assert all(len(b["content"]) <= CONTENT_MAX for b in bodies)
    assert "".join(b["content"] for b in bodies) == text  # nothing lost, nothing added
    # Broken between words, not inside one.
    assert all(b["content"].endswith(" ") for b in bodies[:-1])
    assert all(b["allowed_mentions"] == {"parse": []} for b in bodies)
    assert all(FakeDiscord._validate(b) == [] for b in bodies)


def test_lines_break_at_newlines_and_text_without_spaces_breaks_hard() -> None:
    lines = "\n".join("가나다라마바사 " * 20 for _ in range(40))
    pieces = split_content(lines)
    assert "".join(pieces) == lines
    assert all(p.endswith("\n") for p in pieces[:-1])
    solid = "가" * 4500
    assert [len(p) for p in split_content(solid)] == [2000, 2000, 500]


def test_length_counts_utf16_units_so_astral_characters_count_twice() -> None:
    assert length("🚀") == 2
    emoji = "🚀" * 1500  # 3000 units
    pieces = split_content(emoji)
    assert [length(p) for p in pieces] == [2000, 1000]
    assert "".join(pieces) == emoji


def test_embeds_are_trimmed_to_every_limit() -> None:
    embed = Embed(
        title="T" * 300,
        description="D" * 5000,
        fields=tuple(EmbedField("N" * 300, "V" * 2000) for _ in range(30)),
        footer="F" * 3000,
    )
    (body,) = payloads(DiscordMessage(embeds=(embed,)))
    (out,) = body["embeds"]
    assert len(out["title"]) == 256
    assert out["title"].endswith("…")
    assert len(out["footer"]["text"]) <= 2048
    assert len(out["fields"]) <= 25
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in out["fields"])
    total = (
        len(out["title"])
        + len(out.get("description", ""))
        + len(out["footer"]["text"])
        + sum(len(f["name"]) + len(f["value"]) for f in out["fields"])
    )
    assert total <= 6000
    assert FakeDiscord._validate(body) == []


def test_more_than_25_fields_say_how_many_are_hidden() -> None:
    embed = Embed(title="t", fields=tuple(EmbedField(f"n{i}", "v") for i in range(40)))
    (body,) = payloads(DiscordMessage(embeds=(embed,)))
    fields = body["embeds"][0]["fields"]
    assert len(fields) == 25
    assert fields[-1] == {"name": "…", "value": "16 more not shown", "inline": False}


def test_embeds_pack_ten_or_6000_characters_to_a_message() -> None:
    small = tuple(Embed(title=f"e{i}", description="x") for i in range(23))
    bodies = payloads(DiscordMessage(content="hello", embeds=small))
    assert [len(b.get("embeds", [])) for b in bodies] == [10, 10, 3]
    assert bodies[0]["content"] == "hello"  # the first embeds ride with the text
    assert all("content" not in b for b in bodies[1:])

    big = tuple(Embed(title=f"b{i}", description="y" * 4000) for i in range(3))
    bodies = payloads(DiscordMessage(embeds=big))
    assert [len(b["embeds"]) for b in bodies] == [1, 1, 1]  # 2 x 4000 > 6000
    assert all(FakeDiscord._validate(b) == [] for b in bodies)


def test_an_empty_message_needs_no_post_and_whitespace_is_not_a_message() -> None:
    assert payloads(DiscordMessage()) == []
    assert payloads(DiscordMessage(content="   \n ")) == []


def test_untrusted_text_cannot_format_link_or_mention() -> None:
    text = "**bold** [click](https://evil.example) @everyone <@123>\nnext line"
    escaped = escape_markdown(text)
    assert "\n" not in escaped
    assert "\\*\\*bold\\*\\*" in escaped
    assert "\\[click\\]\\(https\\://evil.example\\)" in escaped
    assert "\\<\\@123\\>" in escaped
