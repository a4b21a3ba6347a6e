"""quota-reset: at midnight Asia/Seoul (its PingSource), drop past days' quota counters.

Housekeeping only: daily counters are keyed by their day, so quotas stay right even
when this never runs; it frees the memory before the counters' TTL would.
"""

import logging
from datetime import UTC, datetime

import functions_framework.aio

from shared.accounts.quotas import quota_day, reset_past_days
from shared.events.cloudevent import CloudEvent
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("quota-reset")
log = logging.getLogger("protostar.quotas")


@functions_framework.aio.http
@cloudevent_endpoint(allow_unknown=True)
async def quota_reset(event: CloudEvent) -> None:
    resources = get_resources("quota-reset")
    today = quota_day(datetime.now(UTC), resources.settings.quota_timezone)
    removed = await reset_past_days(resources.redis(), today)
    log.info(
        "past quota days cleared",
        extra={"removed": removed, "today": today.isoformat(), "trigger_id": event.id},
    )
