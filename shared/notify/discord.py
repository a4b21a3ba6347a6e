"""Discord messages and the limits of the Execute Webhook endpoint (no I/O here).

A notification is one logical message: some content and some embeds. Discord takes at
most 2,000 characters of content and 10 embeds per message; an embed's title at most
256, its description 4,096, at most 25 fields (name 256, value 1,024), a footer of
2,048, and all embeds of one message together at most 6,000 characters. Anything over
is refused with 400, so :func:`payloads` turns a message into as many webhook payloads
as it needs: content split at line or word boundaries (nothing lost), each embed trimmed
to its limits (an ellipsis shows where), embeds packed ten, or 6,000 characters, to a
message. Every payload carries ``allowed_mentions: {"parse": []}``: text that reads like
``@everyone`` or ``<@123>`` pings nobody.

Lengths are counted in UTF-16 code units (JavaScript's ``length``), which is never less
than the number of characters, so a payload within these counts is within Discord's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

# A Discord webhook URL, the one pattern for a bot's webhook and the operator's: the
# API version segment (/api/v10/webhooks/...) is optional, as Discord accepts both.
WEBHOOK_URL = re.compile(
    r"https://(?:discord\.com|discordapp\.com)/api/(?:v[0-9]{1,2}/)?webhooks/"
    r"[0-9]{1,25}/[A-Za-z0-9_-]{1,128}"
)


def is_webhook_url(value: str) -> bool:
    return WEBHOOK_URL.fullmatch(value.strip()) is not None


CONTENT_MAX = 2000
EMBEDS_PER_MESSAGE = 10
EMBEDS_TOTAL_MAX = 6000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
USERNAME_MAX = 80

ELLIPSIS = "…"
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#:<@-])")


def length(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _prefix(text: str, units: int) -> str:
    """The longest prefix of ``text`` within ``units`` UTF-16 code units."""
    if length(text) <= units:
        return text
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return text[:index]
    return text


def truncate(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit``, else cut with an ellipsis at the end."""
    if length(text) <= limit:
        return text
    return _prefix(text, limit - 1).rstrip() + ELLIPSIS


def escape_markdown(text: str) -> str:
    """Untrusted text (a visitor's question) shown literally: no markdown, links or
    mentions, on one line."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def split_content(text: str, limit: int = CONTENT_MAX) -> list[str]:
    """``text`` in pieces of at most ``limit``, broken after a newline or a space when
    one is in the second half of a piece; joined again they are ``text`` exactly.
    Pieces that are only whitespace are left out (Discord refuses empty messages)."""
    pieces: list[str] = []
    rest = text
    while length(rest) > limit:
        head = _prefix(rest, limit)
        cut = head.rfind("\n") + 1
        if cut <= len(head) // 2:
            cut = max(head.rfind(" "), head.rfind("\t")) + 1
        if cut <= len(head) // 2:
            cut = len(head)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]


@dataclass(frozen=True)
class EmbedField:
    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True)
class Embed:
    title: str = ""
    description: str = ""
    fields: tuple[EmbedField, ...] = ()
    footer: str = ""
    color: int | None = None
    timestamp: str | None = None  # ISO 8601

    def size(self) -> int:
        """The characters Discord counts towards the 6,000 of a message."""
        return (
            length(self.title)
            + length(self.description)
            + length(self.footer)
            + sum(length(f.name) + length(f.value) for f in self.fields)
        )

    def fitted(self) -> Embed:
        """This embed within every per-embed limit and within 6,000 characters."""
        fields = [
            EmbedField(
                truncate(f.name, FIELD_NAME_MAX) or "\u200b",
                truncate(f.value, FIELD_VALUE_MAX) or "\u200b",
                f.inline,
            )
            for f in self.fields
        ]
        if len(fields) > FIELDS_MAX:
            hidden = len(fields) - (FIELDS_MAX - 1)
            fields = [*fields[: FIELDS_MAX - 1], EmbedField(ELLIPSIS, f"{hidden} more not shown")]
        embed = replace(
            self,
            title=truncate(self.title, TITLE_MAX),
            description=truncate(self.description, DESCRIPTION_MAX),
            footer=truncate(self.footer, FOOTER_MAX),
            fields=tuple(fields),
        )
        excess = embed.size() - EMBEDS_TOTAL_MAX
        if excess > 0 and embed.description:
            keep = max(0, length(embed.description) - excess)
            embed = replace(embed, description=truncate(embed.description, keep) if keep else "")
        while embed.size() > EMBEDS_TOTAL_MAX and embed.fields:
            embed = replace(embed, fields=embed.fields[:-1])
        return embed

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.title:
            body["title"] = self.title
        if self.description:
            body["description"] = self.description
        if self.fields:
            body["fields"] = [
                {"name": f.name, "value": f.value, "inline": f.inline} for f in self.fields
            ]
        if self.footer:
            body["footer"] = {"text": self.footer}
        if self.color is not None:
            body["color"] = self.color
        if self.timestamp:
            body["timestamp"] = self.timestamp
        return body

    def text(self) -> str:
        lines = [self.title, self.description]
        lines += [f"{f.name}: {f.value}" for f in self.fields]
        lines.append(self.footer)
        return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class DiscordMessage:
    content: str = ""
    embeds: tuple[Embed, ...] = field(default_factory=tuple)

    def text(self) -> str:
        """Plain text of the whole message (for the log when no webhook is set)."""
        return "\n".join(part for part in (self.content, *(e.text() for e in self.embeds)) if part)


def _pack(embeds: list[Embed]) -> list[list[Embed]]:
    groups: list[list[Embed]] = []
    size = 0
    for embed in embeds:
        if (
            not groups
            or len(groups[-1]) == EMBEDS_PER_MESSAGE
            or size + embed.size() > EMBEDS_TOTAL_MAX
        ):
            groups.append([])
            size = 0
        groups[-1].append(embed)
        size += embed.size()
    return groups


def payloads(message: DiscordMessage, *, username: str | None = None) -> list[dict[str, Any]]:
    """The Execute Webhook bodies that deliver ``message``, in order, each within
    Discord's limits. An empty message needs none."""
    contents = split_content(message.content)
    groups = _pack([embed.fitted() for embed in message.embeds])
    bodies: list[dict[str, Any]] = [{"content": piece} for piece in contents]
    for index, group in enumerate(groups):
        embeds = [embed.to_json() for embed in group]
        if index == 0 and bodies:
            bodies[-1]["embeds"] = embeds  # the first embeds ride with the last text
        else:
            bodies.append({"embeds": embeds})
    for body in bodies:
        body["allowed_mentions"] = NO_MENTIONS
        if username:
            body["username"] = truncate(username, USERNAME_MAX)
    return bodies
