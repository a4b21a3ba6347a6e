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
# A link target may hold one level of parentheses: [x](javascript:alert(1)).
_TARGET = r"\(((?:[^()\s]|\([^()\s]{0,200}\)){0,2000})(?:\s+\"[^\"]*\")?\)"
_IMAGE = re.compile(r"!\[([^\]\n]{0,300})\]" + _TARGET)
_LINK = re.compile(r"\[([^\]\n]{0,300})\]" + _TARGET)
# Anywhere, not only at a word boundary: "_https://x_" and "블로그https://x" autolink too.
_URL = re.compile(r"(?i)(?:https?://|www\.)[^\s<>()\[\]\"']+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# What is left of a tag after removal ("<" + letter, "/", "!" or "?") is split so that
# no renderer can read it as one.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
# Reference-style definitions ("[1]: //host/x.png") would turn "![a][1]" into an image.
_REFERENCE = re.compile(r"(?m)^[ \t]{0,3}\[[^\]\n]{1,300}\]:[ \t]*\S.*$")
_LINE_REFERENCE = re.compile(r"[ \t]{0,3}\[")
_IMAGE_REF = re.compile(r"!\[([^\]\n]{0,300})\]\[[^\]\n]{0,300}\]")
_REMOVED = "[link removed]"


def _origin(url: str) -> str | None:
    # A backslash or user info makes parsers disagree on the host
    # ("https://evil\\@ok" is evil to a browser, ok to urlsplit): never allowed.
    if "\\" in url or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            return None
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed host or port
        return None
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
        cut = self._safe_cut(self._held)  # may neutralise self._held
        ready, self._held = self._held[:cut], self._held[cut:]
        return self.clean(ready)

    def _safe_cut(self, text: str) -> int:
        """Length of the prefix that no later piece can turn into a construct."""
        # The last word may still grow into a URL (or a "!" into an image): hold it
        # until whitespace ends it.
        last_space = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"))
        cut = last_space + 1
        # A line that may be a reference definition ("[1]: //host/x") is held whole.
        line_start = text.rfind("\n") + 1
        if _LINE_REFERENCE.match(text, line_start):
            cut = min(cut, line_start)
        # Never cut inside a tag, link or image: move the cut before any construct
        # the released prefix would leave unclosed.
        moved = True
        while moved and cut > 0:
            moved = False
            prefix = text[:cut]
            for opener in ("<", "[", "!["):
                at = prefix.rfind(opener)
                if at != -1 and not self._closed(prefix[at:]):
                    # "![": keep the "!" with its bracket, or "!" + "[x](u)" is an image.
                    cut, moved = (
                        (at - 1 if opener == "[" and prefix[at - 1 : at] == "!" else at),
                        True,
                    )
                    break
        if len(text) - cut > HOLD_LIMIT:
            # Released unfinished: its opener goes, so no later piece can complete it.
            self._held = text[:cut] + _neutralise(text[cut:])
            cut = len(text)
        return cut

    def close(self) -> str:
        ready, self._held = _neutralise(self._held, final=True), ""
        return self.clean(ready)

    @staticmethod
    def _closed(fragment: str, *, final: bool = False) -> bool:
        if fragment.startswith("<"):
            return ">" in fragment
        if "](" in fragment:
            return ")" in fragment[fragment.index("](") :]
        # "[text" without "](" yet: closed once the bracket closed and something else
        # than "(" followed it.
        close = fragment.find("]")
        newline = fragment.find("\n")
        if newline != -1 and (close == -1 or newline < close):
            return True  # a link text never spans lines: this "[" is just text
        if close == -1 and len(fragment) > 300:
            return True  # longer than any link text we keep
        if close != -1 and final and close + 1 == len(fragment):
            return True  # "[2]" at the very end: nothing can follow it any more
        return close != -1 and close + 1 < len(fragment) and fragment[close + 1] != "("

    def clean(self, text: str) -> str:
        if not text:
            return text
        text = _CONTROL.sub("", text)
        text = _REFERENCE.sub("", text)
        previous = None
        while previous != text:  # "<<b>img ...>" is a tag again once "<b>" is gone
            previous, text = text, _TAG.sub("", text)
        text = _TAG_START.sub("< ", text)
        text = _IMAGE.sub(lambda m: m.group(1), text)
        text = _IMAGE_REF.sub(lambda m: m.group(1), text)

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


def _neutralise(fragment: str, *, final: bool = False) -> str:
    """An unfinished tag, link or image at the end of the text, made inert."""
    for opener in ("![", "[", "<"):
        at = fragment.rfind(opener)
        if at != -1 and not OutputFilter._closed(fragment[at:], final=final):
            return fragment[:at] + fragment[at + len(opener) :]
    return fragment
