"""The offline default answerer: the best sentences of the retrieved passages, each
cited, preferring the question's language. No network, no model.

A sentence scores by the question terms it contains (each weighted by how rare it is
among the candidate sentences), plus a little for its passage's rank and for being in
the answer's language. Headings-only lines, code (a chunk's fenced lines, or a line
that reads as code), very short fragments and sentences that read as instructions to
a model are never quoted.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from shared.chat import answertype
from shared.chat.generation import (
    GenerationRequest,
    Generator,
    Passage,
    strip_instructions,
)
from shared.documents.lexical import loanword_keys
from shared.documents.loanwords import LATIN_MARK
from shared.documents.model import FENCE
from shared.documents.sentences import has_hangul, split_sentences
from shared.documents.sentences import language as text_language

MAX_SENTENCES = 3
MIN_CHARS = 12
MAX_SENTENCE_CHARS = 400  # a longer sentence is quoted around what the question asks
MAX_RUN_CHARS = 4000
ANSWER_TYPE = -1  # the pseudo-concept "holds the kind of value the question asks for"
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


def quotable(passage: Passage) -> bool:
    """Whether the passage has a sentence the answerer may quote."""
    return bool(_sentences(passage.text, passage.title, passage.section))


@functools.lru_cache(maxsize=4096)
def _sentences(text: str, title: str, section: str) -> tuple[tuple[str, str], ...]:
    """The quotable sentences of one chunk with their language. Cached: the same chunks
    answer many questions."""
    out = []
    # A chunk repeats its title and headings for context: they are not answers.
    headings = {_SPACE.sub(" ", h).strip() for h in section.split(" > ")}
    headings.add(_SPACE.sub(" ", title).strip())
    in_code = False
    for line in strip_instructions(text).split("\n"):
        if line.strip() == FENCE:  # a code block's lines are never quoted
            in_code = not in_code
            continue
        if in_code:
            continue
        line = _BULLET.sub("", line).strip()
        if not line or _SPACE.sub(" ", line) in headings:
            continue
        for sentence in split_sentences(line):
            sentence = _SPACE.sub(" ", sentence).strip()
            if len(sentence) < MIN_CHARS:  # (instruction-like ones went with their paragraph)
                continue
            if _looks_like_code(sentence):  # a code block flattened into the passage
                continue
            if len(sentence) > MAX_RUN_CHARS:  # text with no sentence ends at all
                sentence = sentence[: MAX_RUN_CHARS - 1].rstrip() + "…"
            out.append((sentence, text_language(sentence)))
    return tuple(out)


_CODE_CHARS = re.compile(r"[{}();=<>\[\]$|\\]")


def _looks_like_code(sentence: str) -> bool:
    return len(_CODE_CHARS.findall(sentence)) > max(3, len(sentence) // 25)


def select(
    request: GenerationRequest,
    pool: list[Candidate],
    limit: int = MAX_SENTENCES,
    *,
    by_score: bool = False,
) -> list[Candidate]:
    """The best ``limit`` sentences, in passage order (``by_score``: best first).

    A sentence scores by the question's concepts it holds (a question word, its
    translations and loanword keys count once, as in retrieval), each weighted by how
    rare it is among the candidate sentences."""
    if not pool:
        return []
    concept_of = dict(
        zip(request.terms, request.concepts or range(len(request.terms)), strict=False)
    )
    plain = {t for t in concept_of if not t.startswith("%")}
    keys = {t for t in concept_of if t.startswith("%")}
    # Question terms (stems, morphemes) found in each sentence: a substring test, far
    # cheaper than analysing every sentence; short terms must stand as a word. Loanword
    # keys need the sentence's own keys (cached per sentence).
    matched: dict[int, frozenset[int]] = {}
    wanted = frozenset(plain)
    latin_keys = any(k.startswith(LATIN_MARK) for k in keys)
    for cand in pool:
        found = _found(cand.lower, wanted)
        if keys and (latin_keys or has_hangul(cand.text)):
            found = found | (keys & _sentence_keys(cand.text))
        matched[id(cand)] = frozenset(concept_of[t] for t in found)
    # The kind of value the question asks for (a number, a share, a time) counts as one
    # more concept, found in the sentences that hold such a value.
    kind = answertype.asked(request.standalone or request.question)
    if kind is not None:
        for cand in pool:
            if answertype.holds(kind, cand.text):
                matched[id(cand)] = matched[id(cand)] | {ANSWER_TYPE}
    df: dict[int, int] = {}
    for found_concepts in matched.values():
        for c in found_concepts:
            df[c] = df.get(c, 0) + 1
    n = len(pool)

    # A concept weighs as retrieval weighed it (its IDF in the bot) when known, times
    # how rare it is among these sentences.
    weights = request.weights

    typical = sum(weights) / len(weights) if weights else 1.0

    def weight(c: int) -> float:
        idf = typical if c == ANSWER_TYPE else weights[c] if c < len(weights) else 1.0
        return idf * math.log(1 + n / df[c])

    def score(cand: Candidate) -> float:
        overlap = sum(weight(c) for c in matched[id(cand)])
        bonus = 0.6 / (1 + cand.rank) + (0.4 if cand.language == request.language else 0.0)
        return overlap + bonus - 0.01 * cand.order

    scores = {id(cand): score(cand) for cand in pool}
    ranked = sorted(pool, key=lambda c: scores[id(c)], reverse=True)
    best = scores[id(ranked[0])]
    chosen: list[Candidate] = []
    seen: set[str] = set()
    for cand in ranked:
        if len(chosen) == limit:
            break
        key = cand.text.lower()
        if key in seen:
            continue
        # Keep sentences that carry question concepts, or (when nothing does) the top one.
        if chosen and (not matched[id(cand)] - {ANSWER_TYPE} or scores[id(cand)] < 0.35 * best):
            continue
        chosen.append(cand)
        seen.add(key)
    if not by_score:
        chosen.sort(key=lambda c: (c.rank, c.order))
    return chosen


@functools.lru_cache(maxsize=8192)
def _found(lower: str, wanted: frozenset[str]) -> frozenset[str]:
    """:func:`_matches`, cached: the answer and its sources score the same sentences
    for the same question."""
    return frozenset(_matches(lower, set(wanted)))


def _matches(lower: str, wanted: set[str]) -> set[str]:
    found = set()
    for term in wanted:
        if len(term) == 1 and not term.isascii():
            # A one-syllable Korean word (전, 일, 점) starts a word: not the 일 of 10일
            # or the 점 of 시점.
            if re.search(rf"(?<![0-9a-z\uac00-\ud7a3]){re.escape(term)}", lower):
                found.add(term)
        elif len(term) > 2 or not term.isascii():
            if term in lower:
                found.add(term)
        elif re.search(rf"(?<![0-9a-z]){re.escape(term)}(?![0-9a-z])", lower):
            found.add(term)
    return found


@functools.lru_cache(maxsize=8192)
def _sentence_keys(text: str) -> frozenset[str]:
    return frozenset(own for _, own, _ in loanword_keys(text))


def focus(cand: Candidate, terms: Sequence[str], limit: int = MAX_SENTENCE_CHARS) -> str:
    """The sentence, or when it is over ``limit`` (a resume's run-on line), the window
    of it that holds the most question terms, cut at spaces and marked with "…"."""
    text = cand.text
    if len(text) <= limit:
        return text
    plain = {t for t in terms if not t.startswith("%")}
    positions = sorted(
        m.start()
        for term in _matches(cand.lower, plain)
        for m in re.finditer(re.escape(term), cand.lower)
    )
    best_start, best_count = 0, -1
    for p in positions:
        start = max(0, p - limit // 6)
        count = sum(start <= q < start + limit - 2 for q in positions)
        if count > best_count:
            best_start, best_count = start, count
    start = best_start
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(text), start + limit - 2)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + limit // 2 else end
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def compose(chosen: list[Candidate], terms: Sequence[str] = ()) -> str:
    if len(chosen) == 1:
        c = chosen[0]
        return f"{focus(c, terms)} [{c.passage.number}]"
    return "\n".join(f"- {focus(c, terms)} [{c.passage.number}]" for c in chosen)


class ExtractiveAnswerer(Generator):
    name = "extractive"

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        chosen = select(request, candidates(request.passages))
        if not chosen:
            return
        text = compose(chosen, request.terms)
        # Streamed in word-sized pieces, like a model would: the client sees one protocol.
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield piece
