"""The answer a visitor gets: its text in filtered pieces (a model's NOT_COVERED turned
into the refusal), its ``[n]`` markers renumbered to the sources the visitor sees, and
those sources with their snippets (the passages above a relevance floor, in rank
order, then any other the answer cites)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from shared.accounts.principal import Principal
from shared.accounts.quotas import Consumption, Quota
from shared.chat.decision import Decision
from shared.chat.extractive import Candidate, candidates, focus, quotable, select
from shared.chat.generation import NOT_COVERED, GenerationRequest, Generator, Passage
from shared.chat.output import OutputFilter
from shared.chat.questions import Source
from shared.chat.retrieval import Hit, Retrieval
from shared.documents.sentences import language as text_language

log = logging.getLogger("protostar.chat")

SNIPPET_CHARS = 280

MIN_CONTEXT_CHARS = 60  # a snippet continues into the next sentence when this much fits

MAX_RANKED = 200  # sentences ranked for the sources' snippets

REFUSAL = {
    "ko": "제공된 문서에서는 이 질문에 대한 답을 찾을 수 없습니다. 경력, 프로젝트, 기술에 "
    "대해 다른 질문을 해 주세요.",
    "en": "The documents don't cover that question. Try asking about the career, "
    "projects or skills they describe.",
}

_MARKER = re.compile(r"\[(\d{1,2})\]")

# A retrieved passage is shown as a source when its fused score reaches this share of the
# best one's (the best is always shown when the question is answered), up to k.
CITE_FLOOR = 0.3


@dataclass(frozen=True, slots=True)
class Composed:
    retrieval: Retrieval
    decision: Decision
    request: GenerationRequest


@dataclass(frozen=True, slots=True)
class BotRef:
    id: str
    owner_id: str
    slug: str
    name: str
    persona: str
    greeting: str
    language: str
    allowed_origins: tuple[str, ...]


@dataclass
class Answer:
    bot: BotRef
    principal: Principal
    composed: Composed  # retrieval, decision and the generation request
    conversation_id: str | None
    quota: Quota
    consumption: Consumption | None
    generator: Generator
    started: float
    source: Source = "direct"  # where it was asked from (messages.source)
    answerable: bool = field(init=False)  # the decision's, until the answer says otherwise
    text: list[str] = field(default_factory=list)
    message_id: str | None = None
    # Passage numbers in the order the visitor sees them: the passages above the
    # relevance floor in rank order, then any other the answer cited.
    shown: list[int] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)  # passage numbers the answer cited
    _citations: list[dict[str, str]] | None = None

    def __post_init__(self) -> None:
        self.answerable = self.composed.decision.answerable
        if not self.shown:
            can_quote = {p.number for p in self.request.passages if quotable(p)}
            self.shown = [n for n in shown_passages(self.retrieval.hits) if n in can_quote]

    @property
    def retrieval(self) -> Retrieval:
        return self.composed.retrieval

    @property
    def decision(self) -> Decision:
        return self.composed.decision

    @property
    def request(self) -> GenerationRequest:
        return self.composed.request

    @property
    def question(self) -> str:
        return self.request.question

    @property
    def standalone(self) -> str:
        return self.request.standalone

    @property
    def language(self) -> str:
        """Of the answer: the bot's setting, else the question's."""
        return self.request.language

    @property
    def question_language(self) -> str:
        """Refusals speak the question's language."""
        return text_language(self.question)

    @property
    def provider(self) -> str:
        return self.generator.name if self.answerable else "refusal"

    async def pieces(self) -> AsyncIterator[str]:
        """The answer's text, filtered, in pieces (the refusal when not answerable)."""
        if not self.answerable:
            text = REFUSAL[self.question_language]
            self.text.append(text)
            yield text
            return
        filt = OutputFilter.for_passages(
            self.bot.allowed_origins, (p.text for p in self.request.passages)
        )
        # A model that finds no answer in the passages says NOT_COVERED: held back until
        # the text can no longer be that, then the visitor gets the refusal instead.
        held: str | None = ""
        refused = False
        async for piece in self.generator.stream(self.request):
            if held is not None:
                held += piece
                if _bare(held).startswith(NOT_COVERED):
                    refused = True  # whatever the model adds after it
                    break
                if _may_be_not_covered(held):
                    continue
                piece, held = held, None
            clean = self._renumber(filt.feed(piece))
            if clean:
                self.text.append(clean)
                yield clean
        if refused:
            # The model found no answer in the passages: a refusal, with no sources.
            log.info("the model found no answer in the passages", extra={"bot_id": self.bot.id})
            self.answerable = False
            text = REFUSAL[self.question_language]
            self.text[:] = [text]
            yield text
            return
        if held:
            clean = self._renumber(filt.feed(held))
            if clean:
                self.text.append(clean)
                yield clean
        tail = self._renumber(filt.close())
        if tail:
            self.text.append(tail)
            yield tail
        if not "".join(self.text).strip():
            # Nothing usable came out (e.g. every sentence filtered): say so, honestly.
            self.answerable = False
            text = REFUSAL[self.question_language]
            self.text[:] = [text]
            yield text

    def _renumber(self, text: str) -> str:
        """Markers ``[n]`` (passage numbers) become the source's place in the list the
        visitor sees (:attr:`shown`). A marker of no passage goes. (The filter releases
        a marker whole, never split over pieces.)"""
        available = len(self.request.passages)

        def place(match: re.Match[str]) -> str:
            n = int(match.group(1))
            if not 1 <= n <= available:
                return ""
            if n not in self.cited:
                self.cited.append(n)
            if n not in self.shown:
                self.shown.append(n)
            return f"[{self.shown.index(n) + 1}]"

        return _MARKER.sub(place, text) if text else text

    def citations(self) -> list[dict[str, str]]:
        if self._citations is None:
            self._citations = self._cite()
        return self._citations

    def _cite(self) -> list[dict[str, str]]:
        if not self.answerable:
            return []
        passages = self.request.passages
        quoted = "".join(self.text)
        # One ranking of every sentence of the passages (the answerer's scoring), from
        # which each source takes its best sentence.
        pool = candidates(passages)
        ranked = select(self.request, pool, limit=MAX_RANKED, by_score=True)
        out = []
        for n in self.shown:
            p = passages[n - 1]
            own = [c for c in ranked if c.passage.number == n]
            sentences = [c for c in pool if c.passage.number == n]
            # (A cited passage with nothing quotable keeps its place, [n], by its title.)
            text = snippet(self.request, p, quoted, own, sentences) or p.title
            out.append(
                {
                    "document_id": p.document_id,
                    "title": p.title,
                    "section": p.section,
                    "snippet": text,
                }
            )
        return out


def shown_passages(hits: list[Hit], floor: float = CITE_FLOOR) -> list[int]:
    """1-based numbers of the retrieved passages a visitor sees as sources: the best
    one, and each other whose fused score reaches ``floor`` of the best's."""
    if not hits:
        return []
    best = hits[0].score
    return [i for i, hit in enumerate(hits, start=1) if i == 1 or hit.score >= floor * best]


def _may_be_not_covered(text: str) -> bool:
    """Whether ``text`` (the answer so far) is, or may still become, NOT_COVERED."""
    stripped = _bare(text)
    if not stripped:
        return len(text) < 64  # only blanks so far
    return NOT_COVERED.startswith(stripped)


def _bare(text: str) -> str:
    return text.strip().strip("*_`\"'.").upper()


def snippet(
    request: GenerationRequest,
    passage: Passage,
    quoted: str = "",
    ranked: list[Candidate] | None = None,
    pool: list[Candidate] | None = None,
) -> str:
    """The passage's sentence that best matches the question and that the answer does
    not already quote (so a source adds evidence instead of repeating it), with the
    sentence after it when both fit; the passage's opening when nothing matches.
    ``ranked``: the passage's sentences best first, when already scored; ``pool``: all
    of them, in order."""
    if pool is None:
        pool = candidates([passage])
    if ranked is None:
        ranked = select(request, pool, limit=len(pool), by_score=True)
    if not ranked:
        # Nothing matches the question: the passage's first quotable sentence (never its
        # raw text: sentences that read as instructions to a model are not quotable).
        ranked = pool[:1]
    if not ranked:
        return ""
    best, text = ranked[0], ""
    for cand in ranked:  # the first the answer does not quote (most often the first)
        shown = focus(cand, request.terms, SNIPPET_CHARS)
        if not text:
            text = shown
        if shown not in quoted:
            best, text = cand, shown
            break
    after = [c for c in pool if c.order == best.order + 1]
    room = SNIPPET_CHARS - len(text) - 1
    if after and len(after[0].text) <= room:
        text = f"{text} {after[0].text}"
    elif after and room >= MIN_CONTEXT_CHARS:
        # The next sentence as far as it fits, cut at a space: a run-on line's start
        # is often what the short best sentence leads into (a title, then its company).
        cut = after[0].text.rfind(" ", 0, room)
        text = f"{text} {after[0].text[: cut if cut > room // 2 else room - 1].rstrip()}…"
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


def _passage(number: int, hit: Hit) -> Passage:
    return Passage(number, hit.document_id, hit.title, hit.section, hit.text)
