"""token-cleanup: hourly (its PingSource), delete expired refresh tokens, used or
expired password resets and expired unredeemed invites."""

import logging

import functions_framework.aio

from shared.accounts.cleanup import delete_expired
from shared.events.cloudevent import CloudEvent
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("token-cleanup")
log = logging.getLogger("protostar.accounts")


@functions_framework.aio.http
@cloudevent_endpoint(allow_unknown=True)
async def token_cleanup(event: CloudEvent) -> None:
    removed = await delete_expired(await get_resources("token-cleanup").pool())
    log.info("expired tokens deleted", extra={**removed, "trigger_id": event.id})
