"""The talent function's composition root: its services, built from settings in one
place when the first request needs them (functions-framework has no start-up hook)."""

from __future__ import annotations

from shared.embeddings.factory import provider_from_settings
from shared.resources import Resources
from shared.talent.quota import TalentQuota
from shared.talent.search import TalentSearch
from shared.talent.service import TalentService


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
    return TalentService(pool, quota, search, public_url=settings.public_base_url)
