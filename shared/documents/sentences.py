"""Sentences of Korean and English text, and the language of a text."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.documents.budget import check
from shared.documents.korean import kiwi

HANGUL_SHARE_FOR_KOREAN = 0.3  # of words; Korean prose is dense with English terms
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# A sentence ends at . ! ? … (or a CJK full stop), possibly closed by quotes or
# brackets, when whitespace and a sentence-like start follow.
# Linear on any input: a match starts only where a run of punctuation starts, and the
# quantifiers are possessive ("!" * 200_000 took minutes with a plain ``+``).
_BOUNDARY = re.compile(
    r"(?<![.!?…。！？])[.!?…。！？]++[\"'”’)\]]*+\s++"
    r"(?=[\"'“‘(\[]?[A-Z0-9\u00c0-\u00de\uac00-\ud7a3])"
)
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co",
        "corp", "e.g", "i.e", "cf", "no", "fig", "approx", "dept", "est", "u.s", "u.k",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    }
)  # fmt: skip
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_WORD_WINDOW = 40  # the last word before a full stop is looked for this far back only
# kiwipiepy gets a paragraph in windows of at most this many characters (cut after a
# sentence-final mark when there is one): one call on a 2-million-character paragraph
# runs for 18 s with nothing able to stop it; windows let the budget be checked.
KIWI_WINDOW = 20_000
_WINDOW_CUT = re.compile(r"[.!?…。！？][\"'”’)\]]*\s|\s")


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


def language(text: str) -> str:
    """``"ko"`` when at least 30% of the words have Hangul, else ``"en"``.

    Words, not letters: a syllable carries as much as three Latin letters, and Korean
    technical prose is full of English names ("Redis를 씁니다" is Korean).
    """
    if not has_hangul(text):
        return "en"
    words = [w for w in text.split() if _HANGUL.search(w) or _LATIN.search(w)]
    hangul = sum(1 for w in words if _HANGUL.search(w))
    return "ko" if hangul >= HANGUL_SHARE_FOR_KOREAN * len(words) else "en"


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph: kiwipiepy when it has Hangul, a rule otherwise."""
    text = text.strip()
    if not text:
        return []
    if has_hangul(text):
        sentences = [s.text.strip() for w in _windows(text) for s in kiwi().split_into_sents(w)]
    else:
        sentences = _split_english(text)
    return [s for s in sentences if s]


def _split_english(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        # Only the last few characters: a slice or search from ``start`` would make a
        # paragraph of many skipped boundaries ("e.g. " * 400_000) quadratic.
        word = _LAST_WORD.search(
            text, max(start, boundary.start() - _WORD_WINDOW), boundary.start()
        )
        punctuation = text[boundary.start()]
        if punctuation == "." and word is not None:
            token = word.group(1).lower()
            if token in _ABBREVIATIONS or len(token) == 1:  # "Dr.", "e.g.", "J. Smith"
                continue
        sentences.append(text[start : boundary.end()].strip())
        start = boundary.end()
    sentences.append(text[start:].strip())
    return sentences


def _windows(text: str) -> Iterator[str]:
    """``text`` in pieces of at most ``KIWI_WINDOW`` characters, cut after the last
    sentence end (else the last whitespace) of each window; the budget is checked
    before each piece is handed out (so between two kiwipiepy calls)."""
    while len(text) > KIWI_WINDOW:
        check()
        window = text[:KIWI_WINDOW]
        sentence_end = space = 0
        for found in _WINDOW_CUT.finditer(window, KIWI_WINDOW // 2):
            if found.group().isspace():
                space = found.end()
            else:
                sentence_end = found.end()
        cut = sentence_end or space or KIWI_WINDOW
        yield text[:cut]
        text = text[cut:]
    check()
    yield text
