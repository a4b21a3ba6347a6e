"""digest: at 09:00 Asia/Seoul (its PingSource), compile yesterday's digest of every
bot with activity: one dev.protostar.digest.compiled event per bot and day, once."""

import logging

import functions_framework.aio

from shared.digest.days import requested_day
from shared.digest.service import compile_day
from shared.events.cloudevent import CloudEvent
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("digest")
log = logging.getLogger("protostar.digest")


@functions_framework.aio.http
@cloudevent_endpoint(allow_unknown=True)
async def digest(event: CloudEvent) -> None:
    res = get_resources("digest")
    timezone = res.settings.quota_timezone
    day = requested_day(event, timezone)
    pool = await res.pool()
    event_ids = await compile_day(pool, day, timezone, sink=res.settings.broker_url)
    log.info(
        "daily digest compiled",
        extra={"day": day.isoformat(), "digests": len(event_ids), "trigger_id": event.id},
    )
