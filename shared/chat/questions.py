"""A question as it arrives: its body checked (length, characters, fields), its language,
who asks it (guest or user), where it came from, and the quota view that goes back with
the answer."""

from __future__ import annotations

import re
from typing import Any, Literal

from shared.accounts.principal import Principal
from shared.accounts.quotas import Quota
from shared.documents.sentences import language as text_language
from shared.errors import BadRequest

MAX_QUESTION_CHARS = 2000
MAX_COMMENT_CHARS = 1000
MAX_TEST_QUESTIONS = 20

# Where the question was asked from (messages.source, migration 0013): "talent" when the
# chat page was opened from a talent search's "ask this person" link (its ``via=talent``
# marker), else "direct". Said by the asker's page, so counted, never trusted for more.
Source = Literal["direct", "talent"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def asker_of(principal: Principal) -> str:
    kind = "guest" if principal.is_guest else "user"
    return f"{kind}:{principal.subject}"


def question_language(question: str, bot_language: str) -> str:
    return bot_language if bot_language in ("ko", "en") else text_language(question)


def question_text(value: str) -> str:
    """A question as asked: valid Unicode, control characters as spaces, trimmed, not
    empty, at most MAX_QUESTION_CHARS."""
    _encodable(value, "question")
    question = _CONTROL.sub(" ", value).strip()
    if not question:
        raise BadRequest("the question is empty", code="empty_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(
            f"the question is over {MAX_QUESTION_CHARS:,} characters", code="question_too_long"
        )
    return question


def conversation_ref(value: str) -> str:
    if not _UUID.fullmatch(value):
        raise BadRequest("'conversation_id' must be a UUID", code="bad_conversation_id")
    return value


def comment_text(value: str | None) -> str | None:
    """A feedback comment: like a question's text, empty means none."""
    if value is None:
        return None
    _encodable(value, "comment")
    comment = _CONTROL.sub(" ", value).strip() or None
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise BadRequest(
            f"the comment is over {MAX_COMMENT_CHARS:,} characters", code="comment_too_long"
        )
    return comment


def _encodable(text: str, field: str) -> None:
    """JSON may carry lone surrogates ("\\ud800") that no UTF-8 text can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"'{field}' is not valid Unicode text", code="bad_text") from None


def quota_view(quota: Quota) -> dict[str, Any]:
    return {
        "limit": quota.limit,
        "remaining": quota.remaining,
        "reset_at": quota.reset_at.isoformat() if quota.reset_at else None,
        "scope": quota.scope,
    }
