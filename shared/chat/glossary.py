"""A small bilingual glossary of career and engineering words (English <-> Korean) that
lets the lexical leg cross languages: "Does he hold any certificates?" also looks for
자격증, "관측성" also for observability. The offline embedding model is English-only,
so without this a question in one language cannot find text in the other.

``glossary.tsv`` holds the pairs as people write them and, beside them, their index
terms (what :func:`shared.documents.lexical.terms` makes of each side), so loading it
needs neither kiwipiepy nor the stemmer; ``python -m shared.chat.glossary`` rewrites
the term columns after the pairs change, and a test checks they are current.

The words are general career vocabulary, written without looking at any evaluation
question; a question's own terms always count, translations are added beside them as
the same concept (see ``retrieval.question_terms``).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

PATH = Path(__file__).with_name("glossary.tsv")
Entry = tuple[tuple[str, ...], tuple[str, ...], str]  # (English terms, Korean terms, word)


def read_pairs(path: Path = PATH) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        cols += [""] * (4 - len(cols))
        rows.append((cols[0], cols[1], cols[2], cols[3]))
    return rows


@functools.cache
def entries() -> tuple[Entry, ...]:
    return tuple(
        (tuple(en_terms.split()), tuple(ko_terms.split()), ko.strip())
        for _, ko, en_terms, ko_terms in read_pairs()
        if en_terms and ko_terms
    )


@functools.cache
def _index() -> dict[str, tuple[int, ...]]:
    """term -> the entries one of whose sides holds it (so a question looks at the few
    entries its terms can complete, not at all of them)."""
    index: dict[str, list[int]] = {}
    for i, (en, ko, word) in enumerate(entries()):
        for term in {*en, *ko, word}:
            index.setdefault(term, []).append(i)
    return {term: tuple(ids) for term, ids in index.items()}


def translations(terms: set[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(source terms, their translation) for every entry one side of which the query
    holds: all of its terms, or (Korean) the word itself."""
    index = _index()
    table = entries()
    candidates = sorted({i for term in terms for i in index.get(term, ())})
    out = []
    for i in candidates:
        en, ko, word = table[i]
        if set(en) <= terms:
            out.append((en, ko))
        morphemes = {t for t in ko if t != word} or {word}
        if word in terms or morphemes <= terms:
            out.append((tuple(t for t in ko if t in terms) or (word,), en))
    return out


def _forms(text: str) -> str:
    """Index terms of one side; a single Korean word also as itself, since the analyzer
    may split it alone ("대학교" -> "학교") yet keep it whole in a sentence."""
    from shared.documents.lexical import terms

    forms = list(dict.fromkeys(terms(text)))
    word = text.strip()
    if " " not in word and any("\uac00" <= ch <= "\ud7a3" for ch in word) and word not in forms:
        forms.append(word)
    return " ".join(forms)


def write(path: Path = PATH) -> None:
    header = [
        line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")
    ]
    body = [f"{en}\t{ko}\t{_forms(en)}\t{_forms(ko)}" for en, ko, _, _ in read_pairs(path)]
    path.write_text("\n".join([*header, *body]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
    sys.exit(0)
