"""Terms for the BM25 leg: one analyzer for documents and queries alike.

- Korean: content morphemes from kiwipiepy (nouns NNG/NNP, verb and adjective stems
  VV/VA, roots XR, Hanja SH); particles, endings, suffixes and bound nouns are dropped.
- English: lower-cased words, Snowball-stemmed, a few function words dropped.
- Mixed tokens (``MicroK8s``, ``R2DBC``, ``gpt-4o``, ``C++``, ``Node.js``, ``3년차``) are
  terms as a whole (lower-cased, unstemmed) AND by their parts: pieces between
  ``.-_&+#``, camel-case pieces, letter runs of two or more, and for Hangul tokens the
  Hangul part (``년차``). A particle glued to a token (``Kafka를``, ``3년차를``) is not
  part of it.

kiwipiepy is loaded only when a text contains Hangul.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass

import snowballstemmer  # type: ignore[import-untyped]

from shared.documents import loanwords
from shared.documents.budget import check
from shared.documents.korean import kiwi
from shared.documents.sentences import has_hangul

KOREAN_CONTENT_TAGS = frozenset({"NNG", "NNP", "VV", "VA", "XR", "SH"})
# Tags stripped from the end of a mixed token: particles, endings, copula, suffixes.
_TRAILING_TAGS = ("J", "E", "VCP", "VCN", "XSV", "XSA")
_STOPWORDS = """a an the and or but nor of to in on at by for with from into onto about as than
    is are was were be been being am has have had do does did will would shall should
    can could may might must this that these those there here what which who whom whose
    when where why how i me my we our you your he him his she her they them their its
    if then so not no yes also any some such very just"""
ENGLISH_STOPWORDS = frozenset(_STOPWORDS.split())
_TOKEN = re.compile(r"[0-9A-Za-z\uac00-\ud7a3]+(?:[.\-_&][0-9A-Za-z\uac00-\ud7a3]+)*(?:\+\+|\+|#)?")
_SCRIPT_RUN = re.compile(r"[\uac00-\ud7a3]+|[^\uac00-\ud7a3]+")
_JOINERS = re.compile(r"[.\-_&+#]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[0-9])(?=[A-Z][a-z])")
_LETTER_RUN = re.compile(r"[A-Za-z]{2,}")
_stemmers = threading.local()


@dataclass(frozen=True, slots=True)
class _Morpheme:
    form: str
    tag: str
    start: int
    end: int


def terms(text: str) -> list[str]:
    """Index terms of ``text`` in order of appearance (repeats kept, for term counts)."""
    check()
    text = unicodedata.normalize("NFKC", text)
    morphemes = _morphemes(text) if has_hangul(text) else []
    starts = [m.start for m in morphemes]
    found: list[tuple[int, str]] = []
    for match in _TOKEN.finditer(text):
        found.extend((match.start(), term) for term in _token_terms(match, morphemes, starts))
    for morpheme in morphemes:
        if morpheme.tag.split("-")[0] in KOREAN_CONTENT_TAGS and not morpheme.form.isascii():
            found.append((morpheme.start, morpheme.form))
    found.sort(key=lambda item: item[0])  # stable: a token's whole term before its parts
    return [term for _, term in found]


query_terms = terms


def index_terms(text: str) -> list[str]:
    """What a chunk is indexed by: its :func:`terms` and the phonetic keys of its
    loanwords (:mod:`shared.documents.loanwords`), each marked by its script."""
    found = terms(text)
    found.extend(own for _, own, _ in loanword_keys(text))
    return found


def loanword_keys(text: str) -> list[tuple[str, str, str]]:
    """``(term, own key, cross key)`` for every word of ``text`` that has a phonetic
    key: the index term the word stands for, its key marked by its own script (what a
    document stores) and marked by the other script (what a question asks for)."""
    check()
    text = unicodedata.normalize("NFKC", text)
    morphemes = _morphemes(text) if has_hangul(text) else []
    starts = [m.start for m in morphemes]
    out: list[tuple[str, str, str]] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if has_hangul(token):
            token = _strip_trailing(token, match.start(), morphemes, starts)
        offset = 0
        for run in _SCRIPT_RUN.findall(token):
            begin = match.start() + offset
            offset += len(run)
            if not has_hangul(run):
                for word in loanwords.latin_words(run):
                    for key in loanwords.latin_keys(word):
                        out.append(
                            (_stem(word), loanwords.LATIN_MARK + key, loanwords.HANGUL_MARK + key)
                        )
                continue
            inside = morphemes[bisect_left(starts, begin) : bisect_left(starts, begin + len(run))]
            nouns = [m.form for m in inside if m.tag.split("-")[0] in KOREAN_CONTENT_TAGS]
            if not nouns:
                continue
            # The whole run (마이크로서비스, however it was split) stands for its first
            # content morpheme; each longer noun also for itself.
            for form, term in ((run, nouns[0]), *((n, n) for n in nouns if n != run)):
                hangul = loanwords.hangul_key(form)
                if hangul:
                    out.append(
                        (term, loanwords.HANGUL_MARK + hangul, loanwords.LATIN_MARK + hangul)
                    )
    return out


def _morphemes(text: str) -> list[_Morpheme]:
    """Morphemes in order of their start (stable: kiwipiepy's order among equals)."""
    return list(_analysed(text))


@functools.lru_cache(maxsize=256)
def _analysed(text: str) -> tuple[_Morpheme, ...]:
    # Cached: terms() and loanword_keys() read the same text (a question, a chunk).
    found = [_Morpheme(t.form, t.tag, t.start, t.start + t.len) for t in kiwi().tokenize(text)]
    found.sort(key=lambda m: m.start)
    return tuple(found)


def _token_terms(match: re.Match[str], morphemes: list[_Morpheme], starts: list[int]) -> list[str]:
    token = match.group()
    if not has_hangul(token):
        return _latin_terms(token)
    start = match.start()
    token = _strip_trailing(token, start, morphemes, starts)
    out: list[str] = []
    hangul_runs: list[str] = []
    for run in _SCRIPT_RUN.findall(token):
        if has_hangul(run):
            hangul_runs.append(run)
        else:
            run = run.strip(".-_&")
            if run:
                out.extend(_latin_terms(run))
    if out and hangul_runs:  # a true mixed token: 3년차, k8s클러스터
        return [token.lower(), *out, *hangul_runs]
    return out


def _strip_trailing(token: str, start: int, morphemes: list[_Morpheme], starts: list[int]) -> str:
    """Cut particles and endings that kiwipiepy finds at the end of the token."""
    end = start + len(token)
    # Bisect, not a scan of every morpheme per token (quadratic in a chunk's length).
    inside = morphemes[bisect_left(starts, start) : bisect_left(starts, end)]
    while inside and inside[-1].tag.split("-")[0].startswith(_TRAILING_TAGS):
        inside.pop()
    if not inside:
        return token
    kept_end = max(m.end for m in inside)
    return token[: max(kept_end - start, 1)]


def latin_terms(token: str) -> list[str]:
    """The terms of one token without Hangul (as :func:`terms` makes them)."""
    return _latin_terms(token)


def _latin_terms(token: str) -> list[str]:
    """Terms of a token without Hangul: a word, a number, or a mixed token."""
    lowered = token.lower()
    if token.isalpha():
        return [] if lowered in ENGLISH_STOPWORDS else [_stem(lowered)]
    if token.isdigit():
        return [token]
    out = [lowered]
    for piece in _pieces(token):
        term = _piece_term(piece)
        if term and term not in out:
            out.append(term)
    return out


def _pieces(token: str) -> list[str]:
    pieces: list[str] = []
    for part in _JOINERS.split(token):
        if not part:
            continue
        pieces.append(part)
        camel = [p for p in _CAMEL.split(part) if p]
        if len(camel) > 1:
            pieces.extend(camel)
        for piece in camel:
            pieces.extend(_LETTER_RUN.findall(piece))
    return pieces


def _piece_term(piece: str) -> str | None:
    lowered = piece.lower()
    if piece.isalpha():
        return None if lowered in ENGLISH_STOPWORDS else _stem(lowered)
    return lowered


# Words repeat (Zipf's law) and Snowball is pure Python: the answerer stems every word of
# every passage it reads, which `task bench` (ask) measured at ~40 ms a question uncached.
@functools.lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:  # Snowball stemmers keep state: one per thread
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    result: str = stemmer.stemWord(word)
    return result
