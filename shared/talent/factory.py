"""The talent function's composition root: its services, built from settings in one
place when the first request needs them (functions-framework has no start-up hook)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.embeddings.factory import provider_from_settings
from shared.resources import Resources
from shared.settings import Settings
from shared.talent.quota import TalentQuota
from shared.talent.search import TalentSearch
from shared.talent.service import TalentService
from shared.talent.understanding import PARSE_TIMEOUT, CriteriaParser, JsonModel

if TYPE_CHECKING:
    from redis.asyncio import Redis


def parser_from_settings(settings: Settings, redis: Redis | None) -> CriteriaParser:
    """TALENT_CRITERIA_PROVIDER's parser: a model's structured output (auto: the LLM that
    ANSWER_PROVIDER picks, if any) or the rules. Nothing imports an SDK or connects
    until the first parse."""
    choice = settings.talent_criteria_provider
    if choice == "auto":
        choice = settings.answer_llm or "rules"
    if choice == "rules":
        return CriteriaParser()
    from shared.chat.llm import Resilience, model_from_settings

    timeout = min(settings.llm_timeout, PARSE_TIMEOUT)
    # One attempt (the rules are the fallback, a retry would only make the search wait);
    # after three outages in a row, the rules alone for a minute.
    resilience = Resilience(
        attempts=1, first_piece_timeout=timeout, piece_timeout=timeout, fail_max=3,
        reset_timeout=60.0,
    )  # fmt: skip
    why = f"TALENT_CRITERIA_PROVIDER={settings.talent_criteria_provider}"
    model: JsonModel = model_from_settings(settings, choice, timeout=timeout,
                                           resilience=resilience,
                                           need=f"for the talent criteria ({why})")  # fmt: skip
    return CriteriaParser(model, redis, timeout=timeout)


async def build(resources: Resources) -> TalentService:
    settings = resources.settings
    pool = await resources.pool()
    quota = TalentQuota(
        resources.redis(),
        stargazer_daily=settings.quota_talent_stargazer_daily,
        protostar_daily=settings.quota_talent_protostar_daily,
        timezone=settings.quota_timezone,
    )
    search = TalentSearch(pool, provider_from_settings(settings))
    parser = parser_from_settings(settings, resources.redis())
    return TalentService(pool, quota, search, public_url=settings.public_base_url, parser=parser)
