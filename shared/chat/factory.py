"""The chat service the settings ask for, built once per process (nothing connects or
imports an SDK until the first question needs it)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from shared.accounts.quotas import Quotas
from shared.chat.decision import Model
from shared.chat.generation import Generator
from shared.chat.retrieval import RetrievalConfig, Retriever
from shared.chat.service import ChatService
from shared.embeddings.factory import provider_from_settings
from shared.resources import get_resources
from shared.settings import Settings

if TYPE_CHECKING:  # the SDK-facing module loads only with an LLM configured
    from shared.chat.llm import Resilience

_service: ChatService | None = None
_lock = asyncio.Lock()


def _resilience(settings: Settings) -> Resilience:
    from shared.chat.llm import Resilience

    return Resilience(first_piece_timeout=settings.llm_timeout, piece_timeout=settings.llm_timeout)


def generator_from_settings(settings: Settings) -> Generator:
    choice = settings.answer_llm
    if choice in ("gemini", "openai"):
        from shared.chat.llm import model_from_settings

        return model_from_settings(settings, choice, timeout=settings.llm_timeout,
                                   resilience=_resilience(settings),
                                   need=f"when ANSWER_PROVIDER={choice}")  # fmt: skip
    from shared.chat.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer()


def decision_model(settings: Settings, model: str) -> Model:
    """The answer/refuse model of the embedding space, with the setting's threshold."""
    from dataclasses import replace

    from shared.chat.decision import FALLBACK_MODEL, MODELS

    base = MODELS.get(model, FALLBACK_MODEL)
    if settings.answer_min_confidence is None:
        return base
    # A threshold set by hand replaces the uncalibrated fallback's floors too.
    return replace(base, threshold=settings.answer_min_confidence, floors=None)


async def chat_service() -> ChatService:
    global _service
    if _service is None:
        async with _lock:
            if _service is None:
                res = get_resources("chat")
                settings = res.settings
                provider = provider_from_settings(settings)
                retriever = Retriever(
                    await res.pool(),
                    provider,
                    RetrievalConfig(k=settings.retrieval_k, fusion=settings.retrieval_fusion),
                )
                _service = ChatService(
                    await res.pool(),
                    res.redis(),
                    Quotas(res.redis(), settings),
                    retriever,
                    generator_from_settings(settings),
                    decision=decision_model(settings, provider.name),
                    translate=settings.question_translation,
                    broker_url=settings.broker_url,
                )
    return _service
