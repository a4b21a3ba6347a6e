"""The rules of a bot's fields, as pure functions: each takes what the client sent and
returns the normalised value or raises :class:`BadRequest` with a code naming the field.
The request models (shared/bots/contracts.py) apply them.

The database repeats the structural rules as CHECK constraints (migration 0004), so a
row that got past a bug here is still refused there.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

from shared.errors import BadRequest
from shared.notify.discord import is_webhook_url

SLUG_MIN, SLUG_MAX = 3, 40
NAME_MAX = 80
PERSONA_MAX = 2000
GREETING_MAX = 500
QUESTIONS_MAX = 6
QUESTION_MAX = 200
ORIGINS_MAX = 20
ORIGIN_LENGTH_MAX = 300
LANGUAGES = ("ko", "en", "auto")

# A DNS label: lower-case letters, digits and inner hyphens (no "--", which also keeps
# IDNA look-alikes such as "xn--..." out).
_SLUG = re.compile(rf"[a-z0-9][a-z0-9-]{{{SLUG_MIN - 2},{SLUG_MAX - 2}}}[a-z0-9]")
# Names that are, or may become, paths and hosts of our own, or that read as official.
RESERVED_SLUGS = frozenset(
    {
        "about", "account", "accounts", "admin", "administrator", "api", "app", "assets",
        "auth", "billing", "blog", "bot", "bots", "chat", "dashboard", "demo", "dev",
        "docs", "embed", "help", "insights", "internal", "invite", "invites", "login",
        "logout", "mail", "new", "null", "official", "openapi", "privacy", "protostar",
        "psych", "public", "reset", "root", "security", "settings", "signup", "static",
        "status", "support", "system", "talent", "terms", "test", "undefined", "user",
        "users", "web", "widget", "www",
    }
)  # fmt: skip

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# ---------------------------------------------------------------------------- slug


def is_slug(value: str) -> bool:
    """Whether ``value`` has a slug's shape (for lookups: reserved words included)."""
    return bool(_SLUG.fullmatch(value)) and "--" not in value


def slug(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest("slug is required", code="invalid_slug")
    if not is_slug(value):
        raise BadRequest(
            f"slug must be {SLUG_MIN} to {SLUG_MAX} lower-case letters, digits and single "
            "hyphens, starting and ending with a letter or digit (like 'jane-doe')",
            code="invalid_slug",
        )
    if value in RESERVED_SLUGS:
        raise BadRequest(f"slug {value!r} is reserved; choose another", code="reserved_slug")
    return value


# ---------------------------------------------------------------------------- text


def _controls(text: str, allowed: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def name(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequest("name is required and must be a string", code="invalid_name")
    if _controls(value, ""):
        raise BadRequest("name must not contain control characters", code="invalid_name")
    text = " ".join(value.split())
    if not text or len(text) > NAME_MAX:
        raise BadRequest(f"name must be 1 to {NAME_MAX} characters", code="invalid_name")
    return text


def _paragraphs(value: object, field: str, limit: int) -> str:
    code = f"invalid_{field}"
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string", code=code)
    text = value.replace("\r\n", "\n").strip()
    if _controls(text, "\n\t"):
        raise BadRequest(f"{field} must not contain control characters", code=code)
    if len(text) > limit:
        raise BadRequest(f"{field} must be at most {limit} characters", code=code)
    return text


def persona(value: object) -> str:
    """Owner-written instructions that shape the bot's answers (never shown publicly)."""
    return _paragraphs(value, "persona", PERSONA_MAX)


def greeting(value: object) -> str:
    return _paragraphs(value, "greeting", GREETING_MAX)


def suggested_questions(value: object) -> list[str]:
    code = "invalid_suggested_questions"
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("suggested_questions must be a list of strings", code=code)
    if len(value) > QUESTIONS_MAX:
        raise BadRequest(
            f"at most {QUESTIONS_MAX} suggested questions (got {len(value)})", code=code
        )
    questions: list[str] = []
    for item in value:
        if not isinstance(item, str) or _controls(item, ""):
            raise BadRequest("each suggested question must be plain text", code=code)
        text = " ".join(item.split())
        if not text or len(text) > QUESTION_MAX:
            raise BadRequest(
                f"each suggested question must be 1 to {QUESTION_MAX} characters", code=code
            )
        if text in questions:
            raise BadRequest(f"suggested question {text!r} is listed twice", code=code)
        questions.append(text)
    return questions


def language(value: object) -> str:
    if not isinstance(value, str) or value not in LANGUAGES:
        raise BadRequest(
            "language must be 'ko', 'en' or 'auto' (answer in the question's language)",
            code="invalid_language",
        )
    return value


def discoverable(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadRequest("discoverable must be true or false", code="invalid_discoverable")
    return value


# ---------------------------------------------------------------------------- origins


def _bad_origin(value: str, why: str) -> BadRequest:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return BadRequest(
        f"allowed origin {shown!r} {why} (an origin is exactly scheme://host[:port], "
        "like https://blog.example.com)",
        code="invalid_origin",
    )


def _host(raw: str, value: str) -> str:
    """The host in the form a browser puts in an ``Origin`` header, or an error."""
    if "%" in raw:
        raise _bad_origin(value, "has an escaped character or an IPv6 zone in its host")
    if ":" in raw:
        try:
            address = ipaddress.IPv6Address(raw)
        except ValueError:
            raise _bad_origin(value, "has a malformed IPv6 address") from None
        return f"[{address.compressed}]"
    if raw.replace(".", "").isdigit():
        try:
            return str(ipaddress.IPv4Address(raw))
        except ValueError:
            raise _bad_origin(value, "has a malformed IPv4 address") from None
    try:
        host = raw.encode("idna").decode("ascii") if not raw.isascii() else raw
    except UnicodeError:
        raise _bad_origin(value, "has a host name that is not valid") from None
    host = host.lower()
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _bad_origin(value, "has a host name that is not valid")
    if labels[-1].isdigit():
        raise _bad_origin(value, "has a host name that is not valid")
    return host


def origin(value: object) -> str:
    """One exact origin ``scheme://host[:port]``, normalised (lower-case host, IDNA,
    default port dropped). A lone trailing ``/`` is dropped; any other path, a query,
    a fragment, user info, a wildcard, ``null`` or a non-HTTP(S) scheme is refused."""
    if not isinstance(value, str):
        raise BadRequest("each allowed origin must be a string", code="invalid_origin")
    text = value.strip()
    if not text or len(text) > ORIGIN_LENGTH_MAX:
        raise _bad_origin(text, f"must be 1 to {ORIGIN_LENGTH_MAX} characters")
    if text.lower() == "null":
        raise _bad_origin(text, "is the opaque origin 'null', which any sandboxed page has")
    if "*" in text:
        raise _bad_origin(text, "has a wildcard; list every origin")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in text) or "\\" in text:
        raise _bad_origin(text, "contains spaces, control characters or backslashes")
    if "?" in text or "#" in text:
        raise _bad_origin(text, "has a query or fragment")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _bad_origin(text, "is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _bad_origin(text, "must start with https:// or http://")
    if not text[len(scheme) :].startswith("://"):
        raise _bad_origin(text, "must start with https:// or http://")
    if "@" in parts.netloc:
        raise _bad_origin(text, "has user info")
    if parts.path not in ("", "/"):
        raise _bad_origin(text, "has a path")
    if port == 0:
        raise _bad_origin(text, "has port 0")
    if not parts.hostname:
        raise _bad_origin(text, "has no host")
    host = _host(parts.hostname, text)
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def allowed_origins(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(
            "allowed_origins must be a list of origins", code="invalid_allowed_origins"
        )
    if len(value) > ORIGINS_MAX:
        raise BadRequest(
            f"at most {ORIGINS_MAX} allowed origins (got {len(value)})",
            code="invalid_allowed_origins",
        )
    origins: list[str] = []
    for item in value:
        normalised = origin(item)
        if normalised not in origins:
            origins.append(normalised)
    return origins


# ---------------------------------------------------------------------------- webhook


def discord_webhook(value: object) -> str | None:
    """A Discord webhook URL, or None (also for ``""``) to have none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not is_webhook_url(value):
        raise BadRequest(
            "discord_webhook must be a Discord webhook URL: "
            "https://discord.com/api/webhooks/<id>/<token>",
            code="invalid_discord_webhook",
        )
    return value.strip()
