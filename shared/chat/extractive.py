"""The offline default answerer: the best sentences of the retrieved passages, each
cited, preferring the question's language. No network, no model.

A sentence scores by the question terms it contains (each weighted by how rare it is
among the candidate sentences), plus a little for its passage's rank and for being in
the answer's language. Headings-only lines, very short fragments and sentences that
read as instructions to a model are never quoted.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from shared.chat.generation import (
    GenerationRequest,
    Generator,
    Passage,
    strip_instructions,
)
from shared.documents.sentences import language as text_language
from shared.documents.sentences import split_sentences

MAX_SENTENCES = 3
MIN_CHARS = 12
MAX_SENTENCE_CHARS = 400
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Candidate:
    passage: Passage
    rank: int  # 0-based rank of the passage
    order: int  # position in the passage
    text: str
    lower: str  # for matching question terms
    language: str


def candidates(passages: Sequence[Passage]) -> list[Candidate]:
    out: list[Candidate] = []
    for rank, passage in enumerate(passages):
        for order, (text, language) in enumerate(
            _sentences(passage.text, passage.title, passage.section)
        ):
            out.append(Candidate(passage, rank, order, text, text.lower(), language))
    return out


@functools.lru_cache(maxsize=4096)
def _sentences(text: str, title: str, section: str) -> tuple[tuple[str, str], ...]:
    """The quotable sentences of one chunk with their language. Cached: the same chunks
    answer many questions."""
    out = []
    # A chunk repeats its title and headings for context: they are not answers.
    headings = {_SPACE.sub(" ", h).strip() for h in section.split(" > ")}
    headings.add(_SPACE.sub(" ", title).strip())
    for line in strip_instructions(text).split("\n"):
        line = _BULLET.sub("", line).strip()
        if not line or _SPACE.sub(" ", line) in headings:
            continue
        for sentence in split_sentences(line):
            sentence = _SPACE.sub(" ", sentence).strip()
            if len(sentence) < MIN_CHARS:  # (instruction-like ones went with their paragraph)
                continue
            if len(sentence) > MAX_SENTENCE_CHARS:
                sentence = sentence[: MAX_SENTENCE_CHARS - 1].rstrip() + "…"
            out.append((sentence, text_language(sentence)))
    return tuple(out)


def select(
    request: GenerationRequest, pool: list[Candidate], limit: int = MAX_SENTENCES
) -> list[Candidate]:
    """The best ``limit`` sentences, in passage order."""
    wanted = set(request.terms)
    if not pool:
        return []
    # Question terms (stems, morphemes) found in each sentence: a substring test, far
    # cheaper than analysing every sentence; short terms must stand as a word.
    matched = {id(cand): _matches(cand.lower, wanted) for cand in pool}
    df: dict[str, int] = {}
    for found in matched.values():
        for term in found:
            df[term] = df.get(term, 0) + 1
    n = len(pool)

    def score(cand: Candidate) -> float:
        overlap = sum(math.log(1 + n / df[t]) for t in matched[id(cand)])
        bonus = 0.6 / (1 + cand.rank) + (0.4 if cand.language == request.language else 0.0)
        return overlap + bonus - 0.01 * cand.order

    ranked = sorted(pool, key=score, reverse=True)
    best = score(ranked[0])
    chosen: list[Candidate] = []
    seen: set[str] = set()
    for cand in ranked:
        if len(chosen) == limit:
            break
        key = cand.text.lower()
        if key in seen:
            continue
        # Keep sentences that carry question terms, or (when nothing does) the top one.
        if chosen and (not matched[id(cand)] or score(cand) < 0.35 * best):
            continue
        chosen.append(cand)
        seen.add(key)
    chosen.sort(key=lambda c: (c.rank, c.order))
    return chosen


def _matches(lower: str, wanted: set[str]) -> frozenset[str]:
    found = set()
    for term in wanted:
        if len(term) > 2 or not term.isascii():
            if term in lower:
                found.add(term)
        elif re.search(rf"(?<![0-9a-z]){re.escape(term)}(?![0-9a-z])", lower):
            found.add(term)
    return frozenset(found)


def compose(chosen: list[Candidate]) -> str:
    if len(chosen) == 1:
        c = chosen[0]
        return f"{c.text} [{c.passage.number}]"
    return "\n".join(f"- {c.text} [{c.passage.number}]" for c in chosen)


class ExtractiveAnswerer(Generator):
    name = "extractive"

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        chosen = select(request, candidates(request.passages))
        if not chosen:
            return
        text = compose(chosen)
        # Streamed in word-sized pieces, like a model would: the client sees one protocol.
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield piece
