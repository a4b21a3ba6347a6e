"""What the chat page learns from the server about where it is embedded.

The widget loader opens ``/b/{bot}?parent=<the blog's origin>&lang=..``. The page
will post messages (close, ready) to that origin only if it is exactly one of the bot's
allowed origins or our own; anything else is dropped here, so a page framed elsewhere
(which CSP ``frame-ancestors`` stops anyway) never learns a target to talk to.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

LANGUAGES = ("ko", "en")


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (how browsers serialise an origin)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def chat_page_values(
    slug: str,
    allowed: Iterable[str],
    *,
    own_origin: str,
    parent: str | None,
    lang: str | None,
) -> dict[str, str]:
    own = origin_of(own_origin)
    trusted = {own, *allowed}
    return {
        "bot": slug,
        "parent": parent if parent and parent in trusted else "",
        "lang": lang if lang in LANGUAGES else "",
    }
