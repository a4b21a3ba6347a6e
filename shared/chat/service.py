"""Answering one question, in the order the contract names: authenticate (the caller
did), check and consume quota, retrieve, decide, generate, store.

:meth:`ChatService.prepare` does everything up to generation and returns an
:class:`Answer` whose :meth:`Answer.pieces` streams filtered text; then
:meth:`ChatService.finish` stores the turn (conversation, message, outbox event in one
transaction) or :meth:`ChatService.fail` gives the question back to the quota.
Nothing is stored for a failed answer.

Row-level security: reads of chunks run under ``app.bot_id`` (that bot only);
conversations, messages and feedback under ``app.asker`` (``user:<id>`` or
``guest:<visitor id>``, from the verified token only).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from shared import ratelimit
from shared.accounts.principal import Principal
from shared.accounts.quotas import Consumption, Quota, QuotaExceeded, Quotas
from shared.bots import validation
from shared.bots.owned import no_such_bot, owned_bot_id
from shared.chat.decision import FALLBACK_MODEL, MODELS, Decision, Model, decide, explain
from shared.chat.extractive import Candidate, candidates, focus, quotable, select
from shared.chat.generation import NOT_COVERED, GenerationRequest, Generator, Passage, Turn
from shared.chat.output import OutputFilter
from shared.chat.retrieval import Hit, Retrieval, Retriever, merge
from shared.chat.rewrite import is_follow_up, rule_rewrite
from shared.db.unit import scope, unit_of_work
from shared.documents.sentences import language as text_language
from shared.errors import BadRequest, NotFound
from shared.events import outbox

log = logging.getLogger("protostar.chat")

SOURCE = "/protostar/chat"
MAX_QUESTION_CHARS = 2000
MAX_COMMENT_CHARS = 1000
SNIPPET_CHARS = 280
MIN_CONTEXT_CHARS = 60  # a snippet continues into the next sentence when this much fits
MAX_TEST_QUESTIONS = 20  # per request of the owner's "test your bot"
TEST_REQUESTS_PER_HOUR = 30  # per owner
MAX_RANKED = 200  # sentences ranked for the sources' snippets
TRANSLATION_TTL = 30 * 86400  # seconds a question's translation stays in Redis
HISTORY_TURNS = 3
REFUSAL = {
    "ko": "제공된 문서에서는 이 질문에 대한 답을 찾을 수 없습니다. 경력, 프로젝트, 기술에 "
    "대해 다른 질문을 해 주세요.",
    "en": "The documents don't cover that question. Try asking about the career, "
    "projects or skills they describe.",
}
# A turn in one statement: the conversation (new, or touched when it goes on) and the
# message. Row-level security checks both rows against app.asker.
_STORE_TURN = """
WITH conversation AS (
    INSERT INTO conversations (id, bot_id, bot_owner_id, asker, user_id, title)
    VALUES (%(conversation)s, %(bot)s, %(owner)s, %(asker)s, %(user)s, %(title)s)
    -- prepare() checked the conversation is this asker's with this bot; RLS refuses to
    -- touch anyone else's (an error, never a silent skip).
    ON CONFLICT (id) DO UPDATE SET updated_at = now()
    RETURNING id
)
INSERT INTO messages (id, conversation_id, bot_id, bot_owner_id, asker, question,
                      standalone, language, answer, citations, answerable, top_score,
                      provider, latency_ms)
SELECT %(message)s, conversation.id, %(bot)s, %(owner)s, %(asker)s, %(question)s,
       %(standalone)s, %(language)s, %(answer)s, %(citations)s, %(answerable)s,
       %(top_score)s, %(provider)s, %(latency)s
FROM conversation
"""
_MARKER = re.compile(r"\[(\d{1,2})\]")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


def asker_of(principal: Principal) -> str:
    kind = "guest" if principal.is_guest else "user"
    return f"{kind}:{principal.subject}"


def question_language(question: str, bot_language: str) -> str:
    return bot_language if bot_language in ("ko", "en") else text_language(question)


def parse_question(body: Mapping[str, Any]) -> tuple[str, str | None]:
    question = body.get("question")
    if not isinstance(question, str):
        raise BadRequest("'question' must be a string", code="bad_question")
    _encodable(question, "question")
    question = _CONTROL.sub(" ", question).strip()
    if not question:
        raise BadRequest("the question is empty", code="empty_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(
            f"the question is over {MAX_QUESTION_CHARS:,} characters", code="question_too_long"
        )
    conversation = body.get("conversation_id")
    if conversation is not None and (
        not isinstance(conversation, str) or not _UUID.match(conversation)
    ):
        raise BadRequest("'conversation_id' must be a UUID", code="bad_conversation_id")
    unknown = set(body) - {"question", "conversation_id"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}", code="unknown_fields")
    return question, conversation


def _encodable(text: str, field: str) -> None:
    """JSON may carry lone surrogates ("\\ud800") that no UTF-8 text can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"'{field}' is not valid Unicode text", code="bad_text") from None


def quota_view(quota: Quota) -> dict[str, Any]:
    return {
        "limit": quota.limit,
        "remaining": quota.remaining,
        "reset_at": quota.reset_at.isoformat() if quota.reset_at else None,
        "scope": quota.scope,
    }


async def _as_asker(conn: AsyncConnection, asker: str) -> None:
    await scope(conn, asker=asker)


class ChatService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        redis: Redis,
        quotas: Quotas,
        retriever: Retriever,
        generator: Generator,
        *,
        decision: Model | None = None,
        translate: bool = True,
        broker_url: str | None = None,
    ) -> None:
        self.pool = pool
        self.broker_url = broker_url  # where events go right after their commit
        self.redis = redis
        self.quotas = quotas
        self.retriever = retriever
        self.generator = generator
        self._decision = decision
        # With a model, also retrieve the question translated into the documents' other
        # language (QUESTION_TRANSLATION); the offline answerer has no model for it.
        self.translate = translate and generator.name != "extractive"

    def decision_model(self) -> Model:
        if self._decision is not None:
            return self._decision
        model = self.retriever.provider.name if self.retriever.provider else ""
        return MODELS.get(model, FALLBACK_MODEL)

    async def bot(self, slug: str) -> BotRef:
        if not validation.is_slug(slug):
            raise NotFound("no such bot", code="bot_not_found")
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id::text, owner_id::text, slug, name, persona, greeting, language, "
                "allowed_origins FROM bot_for_answering(%s)",
                (slug,),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no such bot", code="bot_not_found")
        return BotRef(row[0], row[1], row[2], row[3], row[4], row[5], row[6], tuple(row[7]))

    async def history(self, principal: Principal, bot: BotRef, conversation_id: str) -> list[Turn]:
        async with self.pool.connection() as conn, conn.transaction():
            await _as_asker(conn, asker_of(principal))
            cur = await conn.execute(
                "SELECT 1 FROM conversations WHERE id = %s AND bot_id = %s",
                (conversation_id, bot.id),
            )
            if await cur.fetchone() is None:
                raise NotFound("no such conversation", code="conversation_not_found")
            cur = await conn.execute(
                "SELECT standalone, answer FROM messages WHERE conversation_id = %s "
                "ORDER BY created_at DESC, id LIMIT %s",
                (conversation_id, HISTORY_TURNS),
            )
            rows = await cur.fetchall()
        return [Turn(q, a) for q, a in reversed(rows)]

    async def prepare(self, principal: Principal, bot: BotRef, body: Mapping[str, Any]) -> Answer:
        started = time.perf_counter()
        question, conversation_id = parse_question(body)
        history = await self.history(principal, bot, conversation_id) if conversation_id else []
        try:
            quota, consumption = await self.quotas.consume(principal, bot.id)
        except QuotaExceeded as exc:
            await self._exhausted(principal, bot, exc)
            raise
        try:
            language = question_language(question, bot.language)
            standalone = question
            if history and is_follow_up(question):
                rewritten = None
                if self.generator.name != "extractive":
                    try:
                        rewritten = await self.generator.rewrite(question, history, language)
                    except Exception:
                        log.warning("follow-up rewrite failed; using the rule", exc_info=True)
                standalone = (rewritten or rule_rewrite(question, history))[:4000]
            composed = await self.compose(bot, question, standalone, history, language)
        except BaseException:
            await self.quotas.refund(consumption)
            raise
        return Answer(
            bot, principal, composed, conversation_id, quota, consumption, self.generator, started
        )

    async def compose(
        self,
        bot: BotRef,
        question: str,
        standalone: str,
        history: list[Turn],
        language: str,
    ) -> Composed:
        """Retrieve, decide and build the generation request: the part of answering
        that every path shares (the ask, the owner's test of a bot, `task eval`)."""
        retrieval = await self.retriever.retrieve(bot.id, standalone)
        asked_in = evidence_in = text_language(standalone)
        if self.translate and any(
            h.language != asked_in for h in [*retrieval.lexical, *retrieval.vector]
        ):
            # The bot's documents are (also) in the other language: retrieve the question
            # translated into it too (one model call per question, cached in Redis).
            translated = await self._translated(standalone)
            if translated:
                other = await self.retriever.retrieve(bot.id, translated)
                if other.coverage > retrieval.coverage:  # its evidence is the merge's
                    evidence_in = text_language(translated)
                retrieval = merge(retrieval, other, self.retriever.config.k)
        decision = decide(retrieval, evidence_in, self._vector_languages(), self.decision_model())
        passages = [_passage(i, hit) for i, hit in enumerate(retrieval.hits, start=1)]
        request = GenerationRequest(
            question=question,
            standalone=standalone,
            language=language,
            bot_name=bot.name,
            persona=bot.persona,
            greeting=bot.greeting,
            passages=passages,
            history=history,
            terms=retrieval.terms,
            concepts=retrieval.concepts,
            weights=retrieval.weights,
        )
        return Composed(retrieval, decision, request)

    async def _translated(self, question: str) -> str | None:
        """The question in the other language (ko <-> en), from Redis or one model call;
        None when the model fails (the question is retrieved as asked)."""
        target = "en" if text_language(question) == "ko" else "ko"
        digest = hashlib.sha256(question.encode()).hexdigest()
        key = f"protostar:translation:v1:{self.generator.name}:{target}:{digest}"
        if self.redis is not None:
            try:
                cached = await self.redis.get(key)
                if cached is not None:
                    return cached.decode() if isinstance(cached, bytes) else str(cached)
            except Exception:
                log.warning("translation cache unavailable", exc_info=True)
        try:
            translated = await self.generator.translate(question, target)
        except Exception:
            log.warning("question translation failed; retrieving it as asked", exc_info=True)
            return None
        if translated and self.redis is not None:
            try:
                await self.redis.set(key, translated[:4000], ex=TRANSLATION_TTL)
            except Exception:
                log.warning("translation not cached", exc_info=True)
        return translated[:4000] if translated else None

    async def trial(self, principal: Principal, bot: BotRef, question: str) -> Answer:
        """The answer a visitor would get, for the bot's owner or `task eval`: the same
        retrieval, decision and generation, with no quota consumed and nothing stored."""
        question, _ = parse_question({"question": question})
        language = question_language(question, bot.language)
        composed = await self.compose(bot, question, question, [], language)
        unlimited = Quota(limit=None, remaining=None, reset_at=None, scope="unlimited")
        return Answer(bot, principal, composed, None, unlimited, None, self.generator,
                      time.perf_counter())  # fmt: skip

    async def test(
        self, principal: Principal, slug: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The owner tries questions on their bot: per question, what a visitor would
        get (answer or refusal, sources) and why, in words. No quota, nothing stored."""
        questions = body.get("questions")
        if not isinstance(questions, list) or not questions or len(questions) > MAX_TEST_QUESTIONS:
            raise BadRequest(
                f"'questions' must be a list of 1 to {MAX_TEST_QUESTIONS} questions",
                code="bad_questions",
            )
        unknown = set(body) - {"questions"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}", code="unknown_fields")
        parsed = [parse_question({"question": q})[0] for q in questions]
        if not principal.may_own_bots or not validation.is_slug(slug):
            raise no_such_bot(slug)
        try:
            bot = await self.bot(slug)
        except NotFound:
            raise no_such_bot(slug) from None
        if bot.owner_id != principal.subject:
            raise no_such_bot(slug)
        # Each question may cost model calls: a budget per owner.
        await ratelimit.hit(
            self.redis,
            f"protostar:ratelimit:test:{principal.subject}",
            TEST_REQUESTS_PER_HOUR,
            3600,
            f"at most {TEST_REQUESTS_PER_HOUR} tests an hour; try again later",
        )
        threshold = self.decision_model().threshold
        results = []
        for question in parsed:
            answer = await self.trial(principal, bot, question)
            text = "".join([piece async for piece in answer.pieces()])
            results.append(
                {
                    "question": question,
                    "answerable": answer.answerable,
                    "answer": text,
                    "citations": answer.citations(),
                    "evidence": answer.decision.view(),
                    "why": explain(
                        answer.decision, answer.retrieval, answer.question_language, threshold
                    ),
                }
            )
        return {"results": results}

    def _vector_languages(self) -> frozenset[str]:
        provider = self.retriever.provider
        if provider is None:
            return frozenset()
        # The offline model is English-only: its similarities say nothing about Korean.
        return frozenset({"en"}) if provider.name.startswith("local:") else frozenset({"en", "ko"})

    async def _exhausted(self, principal: Principal, bot: BotRef, exc: QuotaExceeded) -> None:
        """Tell audit once per asker and window (not once per refused request)."""
        window = exc.reset_at.date().isoformat() if exc.reset_at else "total"
        who = bot.id if exc.scope == "bot_budget" else asker_of(principal)
        marker = f"protostar:quota:exhausted:{exc.scope}:{who}:{window}"
        try:
            first = await self.redis.set(marker, "1", nx=True, ex=2 * 86400)
            if not first:
                return
            async with unit_of_work(self.pool, sink=self.broker_url) as uow:
                await uow.record(
                    "dev.protostar.quota.exhausted",
                    SOURCE,
                    {"bot_id": bot.id, "role": principal.role, "scope": exc.scope},
                    subject=bot.id,
                )
        except Exception:
            log.warning("quota.exhausted event not recorded", exc_info=True)

    async def fail(self, answer: Answer) -> None:
        if answer.consumption is not None:
            await self.quotas.refund(answer.consumption)
            answer.consumption = None

    async def finish(self, answer: Answer) -> tuple[dict[str, Any], list[str]]:
        """Store the turn; returns the ``done`` record and the outbox event ids."""
        text = "".join(answer.text)
        citations = answer.citations()
        latency = int((time.perf_counter() - answer.started) * 1000)
        asker = asker_of(answer.principal)
        message_id = str(uuid.uuid4())
        top = answer.retrieval.similarity
        top_score = max(answer.retrieval.coverage, top if top is not None else 0.0)
        conversation_id = answer.conversation_id or str(uuid.uuid4())
        # One round trip: the statements are pipelined inside the transaction.
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            await _as_asker(conn, asker)
            await conn.execute(
                _STORE_TURN,
                {
                    "conversation": conversation_id,
                    "message": message_id,
                    "bot": answer.bot.id,
                    "owner": answer.bot.owner_id,
                    "asker": asker,
                    "user": None if answer.principal.is_guest else answer.principal.subject,
                    "title": answer.question[:200],
                    "question": answer.question,
                    "standalone": answer.standalone,
                    "language": answer.language,
                    "answer": text[:20000],
                    "citations": Jsonb(citations),
                    "answerable": answer.answerable,
                    "top_score": top_score,
                    "provider": answer.provider,
                    "latency": latency,
                },
            )
            event = await outbox.record(
                conn,
                "dev.protostar.question.asked",
                SOURCE,
                {
                    "bot_id": answer.bot.id,
                    "message_id": message_id,
                    "language": answer.language,
                    "answerable": answer.answerable,
                    "top_score": round(top_score, 4),
                },
                subject=answer.bot.id,
            )
        answer.consumption = None  # counted for good
        answer.message_id = message_id
        log.info(
            "question answered",
            extra={
                "bot_id": answer.bot.id,
                "message_id": message_id,
                "answerable": answer.answerable,
                "provider": answer.provider,
                "latency_ms": latency,
                "language": answer.language,
            },
        )
        done = {
            "answerable": answer.answerable,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "quota": quota_view(answer.quota),
        }
        return done, [event.id]

    # -- conversations and feedback ----------------------------------------------------

    async def conversations(
        self, principal: Principal, bot_slug: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The caller's own conversations; with ``bot_slug``, the conversations visitors
        had with that bot, for its owner (who asked is not shown: only whether it was a
        guest or a signed-in user)."""
        if bot_slug is not None:
            return await self._bot_conversations(principal, bot_slug, limit)
        asker = asker_of(principal)
        async with self.pool.connection() as conn, conn.transaction():
            await _as_asker(conn, asker)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT c.id::text AS id, b.slug AS bot, c.title, c.created_at, c.updated_at, "
                "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
                "AS message_count "
                "FROM conversations c JOIN bot_slugs(ARRAY(SELECT DISTINCT bot_id FROM "
                "conversations WHERE asker = %s)) b ON b.id = c.bot_id "
                "WHERE c.asker = %s ORDER BY c.updated_at DESC LIMIT %s",
                (asker, asker, limit),
            )
            rows = await cur.fetchall()
        return [_iso(r) for r in rows]

    async def _bot_conversations(
        self, principal: Principal, slug: str, limit: int
    ) -> list[dict[str, Any]]:
        if not principal.may_own_bots:
            raise no_such_bot(slug)  # a visitor's view: no bot of theirs by that name
        async with self.pool.connection() as conn, conn.transaction():
            bot_id = await owned_bot_id(conn, principal.subject, slug)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT c.id::text AS id, %s AS bot, c.title, c.created_at, c.updated_at, "
                "split_part(c.asker, ':', 1) AS asker_kind, "
                "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
                "AS message_count "
                "FROM conversations c WHERE c.bot_id = %s AND c.bot_owner_id = %s "
                "ORDER BY c.updated_at DESC LIMIT %s",
                (slug, bot_id, principal.subject, limit),
            )
            rows = await cur.fetchall()
        return [_iso(r) for r in rows]

    async def conversation(self, principal: Principal, raw_id: str) -> dict[str, Any]:
        """One conversation, to its asker, or (read-only) to the owner of its bot."""
        if not _UUID.match(raw_id):
            raise NotFound("no such conversation", code="conversation_not_found")
        asker = asker_of(principal)
        owner = "" if principal.is_guest else principal.subject
        async with self.pool.connection() as conn, conn.transaction():
            await scope(conn, asker=asker, user=owner)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT c.id::text AS id, c.bot_id::text AS bot_id, c.title, c.created_at, "
                "c.updated_at, c.asker = %s AS mine FROM conversations c "
                "WHERE c.id = %s AND (c.asker = %s OR c.bot_owner_id::text = %s)",
                (asker, raw_id, asker, owner),
            )
            conv = await cur.fetchone()
            if conv is None:
                raise NotFound("no such conversation", code="conversation_not_found")
            await cur.execute(
                "SELECT m.id::text AS id, m.question, m.answer, m.citations, m.answerable, "
                "m.provider, m.latency_ms, m.created_at, f.rating, f.comment "
                "FROM messages m LEFT JOIN feedback f ON f.message_id = m.id "
                "WHERE m.conversation_id = %s ORDER BY m.created_at, m.id",
                (raw_id,),
            )
            messages = await cur.fetchall()
            await cur.execute(
                "SELECT id::text AS id, slug FROM bot_slugs(ARRAY[%s::uuid])", (conv["bot_id"],)
            )
            slug = await cur.fetchone()
        view = _iso(conv)
        view["bot"] = slug["slug"] if slug else None
        view["view"] = "asker" if view.pop("mine") else "owner"
        del view["bot_id"]
        view["messages"] = [
            {
                **_iso({k: v for k, v in m.items() if k not in ("rating", "comment")}),
                "feedback": (
                    {"rating": m["rating"], "comment": m["comment"]} if m["rating"] else None
                ),
            }
            for m in messages
        ]
        return view

    async def feedback(
        self, principal: Principal, raw_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        rating = body.get("rating")
        if rating not in ("up", "down"):
            raise BadRequest("'rating' must be 'up' or 'down'", code="bad_rating")
        comment = body.get("comment")
        if comment is not None:
            if not isinstance(comment, str):
                raise BadRequest("'comment' must be a string", code="bad_comment")
            _encodable(comment, "comment")
            comment = _CONTROL.sub(" ", comment).strip() or None
            if comment is not None and len(comment) > MAX_COMMENT_CHARS:
                raise BadRequest(
                    f"the comment is over {MAX_COMMENT_CHARS:,} characters",
                    code="comment_too_long",
                )
        unknown = set(body) - {"rating", "comment"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}", code="unknown_fields")
        if not _UUID.match(raw_id):
            raise NotFound("no such message", code="message_not_found")
        asker = asker_of(principal)
        async with self.pool.connection() as conn, conn.transaction():
            await _as_asker(conn, asker)
            cur = await conn.execute(
                "SELECT bot_id, bot_owner_id FROM messages WHERE id = %s AND asker = %s",
                (raw_id, asker),
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound("no such message", code="message_not_found")
            cur = await conn.execute(
                "INSERT INTO feedback (message_id, bot_id, bot_owner_id, asker, rating, comment) "
                "VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (message_id) DO UPDATE SET rating = EXCLUDED.rating, "
                "comment = EXCLUDED.comment, updated_at = now() "
                "RETURNING created_at, updated_at",
                (raw_id, row[0], row[1], asker, rating, comment),
            )
            saved = await cur.fetchone()
        assert saved is not None
        return {
            "message_id": raw_id,
            "rating": rating,
            "comment": comment,
            "created_at": saved[0].isoformat(),
            "updated_at": saved[1].isoformat(),
        }


def _passage(number: int, hit: Hit) -> Passage:
    return Passage(number, hit.document_id, hit.title, hit.section, hit.text)


def _iso(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
