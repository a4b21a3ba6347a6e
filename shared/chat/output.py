"""The filter every answer passes through before it leaves the server, piece by piece.

- No HTML: tags are removed (the client renders text as DOM text nodes anyway).
- No images: ``![alt](url)`` becomes ``alt``.
- Links only to the owner's documents and allowed origins: ``[text](url)`` keeps its
  URL only when the URL's origin is allowed (or the URL appears in a cited passage),
  else becomes ``text``; a bare ``http(s)://`` URL elsewhere becomes ``[link removed]``.
- Control characters (but newline and tab) are dropped.

Streaming: a construct may arrive split over pieces (``<scr`` + ``ipt>``), so the
filter holds back the tail that could still be the start of one, and releases it when
it is complete, when it cannot be one, or at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

HOLD_LIMIT = 2048  # an unfinished construct longer than this is released as text
_TAG = re.compile(r"</?[A-Za-z!?][^<>]*>|<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]\n]{0,300})\]\(([^)\s]{0,2000})(?:\s+\"[^\"]*\")?\)")
_LINK = re.compile(r"\[([^\]\n]{0,300})\]\(([^)\s]{0,2000})(?:\s+\"[^\"]*\")?\)")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>()\[\]\"']+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_REMOVED = "[link removed]"
# Where an unfinished construct may start: a tag, a link or image, a URL.
_OPENERS = re.compile(r"<|!?\[|(?i:h(?:t(?:t(?:p(?:s?(?::(?:/(?:/)?)?)?)?)?)?)?$)|(?i:www)")


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


class OutputFilter:
    def __init__(self, allowed_origins: Iterable[str] = (), allowed_urls: Iterable[str] = ()):
        self.allowed_origins = {o.lower().rstrip("/") for o in allowed_origins}
        self.allowed_urls = {u.rstrip("/.,") for u in allowed_urls}
        self._held = ""

    @classmethod
    def for_passages(cls, allowed_origins: Iterable[str], texts: Iterable[str]) -> OutputFilter:
        urls = [m.group(0) for t in texts for m in _URL.finditer(t)]
        return cls(allowed_origins, urls)

    def allowed(self, url: str) -> bool:
        if url.rstrip("/.,") in self.allowed_urls:
            return True
        origin = _origin(url)
        return origin is not None and origin in self.allowed_origins

    def feed(self, piece: str) -> str:
        self._held += piece
        cut = self._safe_cut(self._held)
        ready, self._held = self._held[:cut], self._held[cut:]
        return self.clean(ready)

    def close(self) -> str:
        ready, self._held = self._held, ""
        return self.clean(ready)

    def _safe_cut(self, text: str) -> int:
        """Length of the prefix that no later piece can turn into a construct."""
        cut = len(text)
        # An unclosed tag, link or image anywhere in the tail.
        for opener in ("<", "[", "!["):
            at = text.rfind(opener)
            if at != -1 and at < cut and not self._closed(text[at:]):
                cut = at
        # A URL that may still be growing: the last whitespace-free word.
        last_space = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"))
        tail = text[last_space + 1 :]
        if tail and _OPENERS.search(tail):
            cut = min(cut, last_space + 1 + _OPENERS.search(tail).start())  # type: ignore[union-attr]
        if len(text) - cut > HOLD_LIMIT:
            cut = len(text)
        return cut

    @staticmethod
    def _closed(fragment: str) -> bool:
        if fragment.startswith("<"):
            return ">" in fragment
        if "](" in fragment:
            return ")" in fragment[fragment.index("](") :]
        # "[text" without "](" yet: closed once the bracket closed and something else
        # than "(" followed it.
        close = fragment.find("]")
        return close != -1 and close + 1 < len(fragment) and fragment[close + 1] != "("

    def clean(self, text: str) -> str:
        if not text:
            return text
        text = _CONTROL.sub("", text)
        text = _TAG.sub("", text)
        text = _IMAGE.sub(lambda m: m.group(1), text)

        def link(match: re.Match[str]) -> str:
            label, url = match.group(1), match.group(2)
            if self.allowed(url):
                return f"[{label}]({url})"
            return label

        protected: list[str] = []

        def keep(match: re.Match[str]) -> str:
            protected.append(link(match))
            return f"\x00{len(protected) - 1}\x00"

        text = _LINK.sub(keep, text)
        text = _URL.sub(lambda m: m.group(0) if self.allowed(m.group(0)) else _REMOVED, text)
        text = re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], text)
        return text
