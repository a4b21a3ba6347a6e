"""deadletter: the broker's dead-letter sink; keeps every failed event for replay, and
gives up on the document of a dead-lettered document.uploaded (status failed)."""

import logging

import functions_framework.aio

from shared.content.failure import UPLOADED, give_up
from shared.events import deadletters
from shared.events.cloudevent import CloudEvent
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("deadletter")
log = logging.getLogger("protostar.deadletter")


@functions_framework.aio.http
@cloudevent_endpoint(allow_unknown=True)
async def deadletter(event: CloudEvent) -> None:
    res = get_resources("deadletter")
    pool = await res.pool()
    kept = await deadletters.record(pool, event)
    log.warning(
        "dead letter kept" if kept else "dead letter already kept",
        extra={
            "event_id": event.id,
            "event_type": event.type,
            "destination": event.attributes.get("knativeerrordest"),
            "code": event.attributes.get("knativeerrorcode"),
        },
    )
    if event.type != UPLOADED:
        return
    # Also on a repeated dead letter: giving up is idempotent, and a crash between the
    # two steps must not leave the document waiting forever.
    outcome, failed_id = await give_up(pool, event, sink=res.settings.broker_url)
    log.info(
        "document given up",
        extra={"event_id": event.id, "outcome": outcome, "failed_event": failed_id},
    )
