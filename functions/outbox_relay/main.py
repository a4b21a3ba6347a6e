"""outbox-relay: on its PingSource, re-send outbox events the broker has not accepted."""

import logging

import functions_framework.aio

from shared.errors import ServiceUnavailable
from shared.events.cloudevent import CloudEvent
from shared.events.outbox import BrokerClient, send_pending
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("outbox-relay")
log = logging.getLogger("protostar.outbox")
_broker: BrokerClient | None = None

# Events younger than this are still being sent by their producer after its commit.
MIN_AGE_SECONDS = 5.0


@functions_framework.aio.http
@cloudevent_endpoint(allow_unknown=True)
async def outbox_relay(event: CloudEvent) -> None:
    global _broker
    resources = get_resources("outbox-relay")
    if not resources.settings.broker_url:
        raise ServiceUnavailable("K_SINK (the broker URL) is not set")
    if _broker is None:
        _broker = BrokerClient(resources.settings.broker_url)
    sent = await send_pending(await resources.pool(), _broker, min_age_seconds=MIN_AGE_SECONDS)
    if sent:
        log.info("outbox events relayed", extra={"sent": sent, "trigger_id": event.id})
