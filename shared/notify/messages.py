"""What each notification says (no I/O): Discord messages and mails, from an event's
data and what notify looked up about it.

Text that someone else wrote (a visitor's question, a document's title, a display name)
is escaped, so it can neither format the message nor link or mention anyone. The
operator's messages carry ids and roles, never an email address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.notify.discord import DiscordMessage, Embed, EmbedField, escape_markdown, truncate
from shared.notify.mail import Mail

GREEN = 0x57F287
YELLOW = 0xFEE75C
RED = 0xED4245
BLURPLE = 0x5865F2
SEOUL = ZoneInfo("Asia/Seoul")
_QUESTION_MAX = 300


@dataclass(frozen=True)
class UserInfo:
    id: str
    display_name: str | None = None
    locale: str | None = None  # 'ko', 'en' or unknown


@dataclass(frozen=True)
class BotInfo:
    id: str
    owner_id: str
    slug: str
    name: str
    language: str = "auto"
    discord_webhook: str | None = None
    webhook_disabled: bool = False

    @property
    def webhook(self) -> str | None:
        """The webhook notify may post to: set and not disabled."""
        return None if self.webhook_disabled else self.discord_webhook


def _code(text: str) -> str:
    """Inline code: shown literally (escapes would show too), so only backticks go."""
    return "`" + " ".join(text.replace("`", "'").split())[:100] + "`"


def _who(user: UserInfo) -> str:
    if user.display_name:
        return f"{escape_markdown(truncate(user.display_name, 100))} (`{user.id}`)"
    return f"`{user.id}`"


def _stamp(time: str | None) -> str | None:
    return time if time else datetime.now(UTC).isoformat()


def signed_up(data: Mapping[str, Any], user: UserInfo, time: str | None = None) -> DiscordMessage:
    return DiscordMessage(
        embeds=(
            Embed(
                title="New signup",
                description=f"A new {data['role']} joined Protostar.",
                fields=(
                    EmbedField("User", _who(user)),
                    EmbedField("Role", str(data["role"]), inline=True),
                ),
                color=GREEN,
                timestamp=_stamp(time),
            ),
        )
    )


def role_changed(
    data: Mapping[str, Any],
    user: UserInfo,
    invite_hint: str | None = None,
    time: str | None = None,
) -> DiscordMessage:
    by_invite = data.get("via") == "invite"
    fields = [
        EmbedField("User", _who(user)),
        EmbedField("Role", f"{data['previous_role']} → {data['role']}", inline=True),
        EmbedField("Via", str(data.get("via", "")), inline=True),
    ]
    if by_invite and invite_hint:
        fields.append(EmbedField("Invite", _code(invite_hint), inline=True))
    title = "Invite redeemed" if by_invite else "Role changed"
    description = (
        f"{_who(user)} is now a {data['role']}."
        if by_invite
        else f"{_who(user)} was made a {data['role']} by an admin."
    )
    return DiscordMessage(
        embeds=(
            Embed(
                title=title,
                description=description,
                fields=tuple(fields),
                color=YELLOW,
                timestamp=_stamp(time),
            ),
        )
    )


def document_failed(
    data: Mapping[str, Any],
    bot: BotInfo | None,
    document_title: str | None,
    time: str | None = None,
) -> DiscordMessage:
    fields = [EmbedField("Document", f"`{data['document_id']}`")]
    if document_title:
        fields.insert(0, EmbedField("Title", escape_markdown(document_title)))
    if bot is not None:
        fields.append(EmbedField("Bot", f"{escape_markdown(bot.name)} (`{bot.slug}`)"))
    else:
        fields.append(EmbedField("Bot", f"`{data['bot_id']}` (deleted)"))
    return DiscordMessage(
        embeds=(
            Embed(
                title="Document failed",
                description=escape_markdown(str(data["reason"])),
                fields=tuple(fields),
                footer="Fix the file and upload it again, or reindex the bot.",
                color=RED,
                timestamp=_stamp(time),
            ),
        )
    )


def _top_questions(top: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        f"{rank}. {escape_markdown(truncate(str(q['question']), _QUESTION_MAX))} ×{q['count']}"
        for rank, q in enumerate(top, 1)
    ]


def digest_discord(data: Mapping[str, Any], time: str | None = None) -> DiscordMessage:
    top = _top_questions(data.get("top_questions") or [])
    description = "\n".join(["**Top questions**", *top]) if top else "No questions yesterday."
    return DiscordMessage(
        embeds=(
            Embed(
                title=f"{data['bot_name']}: daily digest for {data['day']}",
                description=description,
                fields=(
                    EmbedField("Questions", str(data["questions"]), inline=True),
                    EmbedField("Unanswered", str(data["unanswered"]), inline=True),
                    EmbedField(
                        "Feedback", f"👍 {data['feedback_up']} · 👎 {data['feedback_down']}", True
                    ),
                ),
                footer=f"/{data['bot_slug']}",
                color=BLURPLE,
                timestamp=_stamp(time),
            ),
        )
    )


def message_id(event_id: str, channel: str, domain: str) -> str:
    """A Message-ID that is the same every time this event's mail is sent."""
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in f"{event_id}.{channel}")
    return f"<{safe[:120]}@{domain}>"


def digest_mail(data: Mapping[str, Any], to: str, message_id: str) -> Mail:
    lines = [
        f"{data['bot_name']} — {data['day']}",
        "",
        f"Questions / 질문: {data['questions']}",
        f"Unanswered / 답하지 못한 질문: {data['unanswered']}",
        f"Feedback / 피드백: 👍 {data['feedback_up']}  👎 {data['feedback_down']}",
    ]
    top = data.get("top_questions") or []
    if top:
        lines += ["", "Top questions / 많이 받은 질문:"]
        lines += [
            f"{rank}. {' '.join(truncate(str(q['question']), _QUESTION_MAX).split())} ×{q['count']}"
            for rank, q in enumerate(top, 1)
        ]
    lines.append("")
    return Mail(
        to=to,
        subject=f"[Protostar] {data['bot_name']}: {data['questions']} questions on {data['day']}",
        text="\n".join(lines),
        message_id=message_id,
    )


def _expiry(expires_at: str) -> tuple[str, str]:
    when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seoul = when.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")
    utc = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return f"{seoul} (KST)", f"{utc} UTC"


_RESET_KO = (
    "Protostar 계정의 비밀번호 재설정을 요청하셨습니다.\n"
    "아래 링크는 {kst}까지 한 번만 쓸 수 있습니다.\n\n{url}\n\n"
    "요청하지 않으셨다면 이 메일을 무시하세요. 비밀번호는 바뀌지 않습니다.\n"
)
_RESET_EN = (
    "Someone, hopefully you, asked to reset the password of your Protostar account.\n"
    "This link works once, until {utc} ({kst}).\n\n{url}\n\n"
    "If you did not ask for it, ignore this mail: your password stays as it is.\n"
)


def password_reset(data: Mapping[str, Any], user: UserInfo, message_id: str) -> Mail:
    """The reset mail, in the user's language (Korean and English when unknown)."""
    kst, utc = _expiry(str(data["expires_at"]))
    url = str(data["reset_url"])
    ko = _RESET_KO.format(kst=kst, url=url)
    en = _RESET_EN.format(kst=kst, utc=utc, url=url)
    if user.locale == "ko":
        subject, text = "Protostar 비밀번호 재설정", ko
    elif user.locale == "en":
        subject, text = "Reset your Protostar password", en
    else:
        subject, text = "Protostar 비밀번호 재설정 / Reset your password", f"{ko}\n---\n\n{en}"
    return Mail(
        to=str(data["email"]),
        subject=subject,
        text=text,
        message_id=message_id,
        secrets=(url,),
    )
