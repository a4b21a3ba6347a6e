"""Sentences of Korean and English text, and the language of a text."""

from __future__ import annotations

import re

from shared.documents.korean import kiwi

HANGUL_SHARE_FOR_KOREAN = 0.3  # of words; Korean prose is dense with English terms
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# A sentence ends at . ! ? … (or a CJK full stop), possibly closed by quotes or
# brackets, when whitespace and a sentence-like start follow.
_BOUNDARY = re.compile(
    r"[.!?…。！？]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9\u00c0-\u00de\uac00-\ud7a3])"
)
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co",
        "corp", "e.g", "i.e", "cf", "no", "fig", "approx", "dept", "est", "u.s", "u.k",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    }
)  # fmt: skip
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)$")


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
        sentences = [s.text.strip() for s in kiwi().split_into_sents(text)]
    else:
        sentences = _split_english(text)
    return [s for s in sentences if s]


def _split_english(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        before = text[start : boundary.start()]
        word = _LAST_WORD.search(before)
        punctuation = text[boundary.start()]
        if punctuation == "." and word is not None:
            token = word.group(1).lower()
            if token in _ABBREVIATIONS or len(token) == 1:  # "Dr.", "e.g.", "J. Smith"
                continue
        sentences.append(text[start : boundary.end()].strip())
        start = boundary.end()
    sentences.append(text[start:].strip())
    return sentences
