"""deadletter: the broker's dead-letter sink; keeps every failed event for replay."""

import logging

import functions_framework.aio

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
    kept = await deadletters.record(await get_resources("deadletter").pool(), event)
    log.warning(
        "dead letter kept" if kept else "dead letter already kept",
        extra={
            "event_id": event.id,
            "event_type": event.type,
            "destination": event.attributes.get("knativeerrordest"),
            "code": event.attributes.get("knativeerrorcode"),
        },
    )
