"""The talent lexicon (lexicon.tsv): roles, skills, domains, spoken languages and places
as HR people write them in English and Korean, and how a query's words are found in it.

A form is matched on the query's tokens: a Latin word lower-cased and singular
(``developers`` is ``developer``), ``C++``/``.NET``/``node.js`` as written (lower-cased),
a Korean word as written, or as the start of a token whose rest is particles and endings
(``개발자는``, ``자바를``): Kiwi decides what the rest is. The longest form wins.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from shared.documents.sentences import has_hangul

PATH = Path(__file__).with_name("lexicon.tsv")
TYPES = ("role", "skill", "domain", "language", "location")

# A query token: a Latin word or name (C++, C#, .NET, node.js, ci/cd), a number, or a
# run of Hangul (an eojeol, particles included).
TOKEN = re.compile(r"\.?[0-9A-Za-z]+(?:[.\-/&][0-9A-Za-z]+)*(?:\+\+|\+|#)?|[\uac00-\ud7a3]+")


@dataclass(frozen=True, slots=True)
class Entry:
    type: str
    canonical: str  # English, as shown and embedded
    forms: tuple[str, ...]  # every way of writing it, English and Korean
    korean: tuple[str, ...]  # the Korean forms (shown for a Korean query)


def key(token: str) -> str:
    """How a query token and a form's token compare: a Latin word lower-cased and in the
    singular (``developers`` is ``developer``). Not its stem: Snowball makes "solid" of
    Solidity and "govern" of governance, and a lexicon form must name one thing."""
    if has_hangul(token):
        return token
    lowered = token.lower()
    if not lowered.isalpha() or len(lowered) <= 3:
        return lowered
    if lowered.endswith("ies") and len(lowered) > 4:
        return lowered[:-3] + "y"
    if lowered.endswith(("sses", "ches", "shes", "xes")):
        return lowered[:-2]
    if lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")):
        return lowered[:-1]
    return lowered


def tokens(text: str) -> list[re.Match[str]]:
    return list(TOKEN.finditer(unicodedata.normalize("NFKC", text)))


@functools.cache
def entries() -> tuple[Entry, ...]:
    found = []
    for line in PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = [*line.split("\t"), "", "", ""][:4]
        type_, canonical, english, korean = (c.strip() for c in cols)
        if type_ not in TYPES or not canonical:
            raise ValueError(f"{PATH.name}: bad line {line!r}")
        ko = tuple(f for f in korean.split("|") if f)
        en = tuple(f for f in english.split("|") if f)
        found.append(Entry(type_, canonical, (canonical, *en, *ko), ko))
    return tuple(found)


@functools.cache
def index() -> dict[str, tuple[tuple[tuple[str, ...], int], ...]]:
    """First key of a form -> (the form's keys, entry number), longest forms first."""
    by_first: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for i, entry in enumerate(entries()):
        for form in entry.forms:
            keys = tuple(key(m.group()) for m in tokens(form))
            variants = {keys}
            if len(keys) > 1 and all(has_hangul(k) for k in keys):
                variants.add(("".join(keys),))  # 데이터 과학자 = 데이터과학자
            for variant in variants:
                if variant:
                    by_first.setdefault(variant[0], []).append((variant, i))
    return {
        first: tuple(sorted(set(forms), key=lambda f: (-len(f[0]), -sum(map(len, f[0])), f[1])))
        for first, forms in by_first.items()
    }


@functools.cache
def hangul_firsts() -> tuple[str, ...]:
    """Korean first keys, longest first (for a token that starts with one)."""
    return tuple(sorted((k for k in index() if has_hangul(k)), key=lambda k: (-len(k), k)))
