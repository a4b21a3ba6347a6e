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
import time
import uuid
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from shared import ratelimit
from shared.accounts.principal import Principal
from shared.accounts.quotas import Quota, QuotaExceeded, Quotas
from shared.bots import validation
from shared.bots.owned import no_such_bot
from shared.chat.answer import (
    CITE_FLOOR,
    MAX_RANKED,
    MIN_CONTEXT_CHARS,
    REFUSAL,
    SNIPPET_CHARS,
    Answer,
    BotRef,
    Composed,
    _passage,
    shown_passages,
    snippet,
)
from shared.chat.contracts import Question, TrialQuestions
from shared.chat.conversations import Conversations, _as_asker
from shared.chat.decision import FALLBACK_MODEL, MODELS, Model, decide, explain
from shared.chat.generation import GenerationRequest, Generator, Turn
from shared.chat.questions import (
    MAX_COMMENT_CHARS,
    MAX_QUESTION_CHARS,
    asker_of,
    question_language,
    question_text,
    quota_view,
)
from shared.chat.retrieval import Retriever, merge
from shared.chat.rewrite import is_follow_up, rule_rewrite
from shared.db.unit import unit_of_work
from shared.documents.sentences import language as text_language
from shared.errors import NotFound
from shared.events import outbox

__all__ = [
    "CITE_FLOOR",
    "MAX_COMMENT_CHARS",
    "MAX_QUESTION_CHARS",
    "MAX_RANKED",
    "MIN_CONTEXT_CHARS",
    "REFUSAL",
    "SNIPPET_CHARS",
    "Answer",
    "BotRef",
    "ChatService",
    "Composed",
    "asker_of",
    "question_language",
    "shown_passages",
    "snippet",
]

log = logging.getLogger("protostar.chat")

SOURCE = "/protostar/chat"


TEST_REQUESTS_PER_HOUR = 30  # per owner

TRANSLATION_TTL = 30 * 86400  # seconds a question's translation stays in Redis

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
                      provider, latency_ms, source)
SELECT %(message)s, conversation.id, %(bot)s, %(owner)s, %(asker)s, %(question)s,
       %(standalone)s, %(language)s, %(answer)s, %(citations)s, %(answerable)s,
       %(top_score)s, %(provider)s, %(latency)s, %(source)s
FROM conversation
"""


class ChatService(Conversations):
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

    async def prepare(self, principal: Principal, bot: BotRef, body: Question) -> Answer:
        started = time.perf_counter()
        question, conversation_id = body.question, body.conversation_id
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
            bot, principal, composed, conversation_id, quota, consumption, self.generator, started,
            source=body.via,
        )  # fmt: skip

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
        question = question_text(question)
        language = question_language(question, bot.language)
        composed = await self.compose(bot, question, question, [], language)
        unlimited = Quota(limit=None, remaining=None, reset_at=None, scope="unlimited")
        return Answer(bot, principal, composed, None, unlimited, None, self.generator,
                      time.perf_counter())  # fmt: skip

    async def test(self, principal: Principal, slug: str, body: TrialQuestions) -> dict[str, Any]:
        """The owner tries questions on their bot: per question, what a visitor would
        get (answer or refusal, sources) and why, in words. No quota, nothing stored."""
        parsed = body.questions
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
                    "source": answer.source,
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
