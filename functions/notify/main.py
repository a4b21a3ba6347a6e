"""notify: Discord webhooks and mail for signups, invite redemptions, failed documents,
daily digests and password resets (one message per event and channel, also when the
broker redelivers; see shared/notify)."""

import logging

import functions_framework.aio

from shared.errors import ServiceUnavailable
from shared.events.cloudevent import CloudEvent
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.notify.errors import TransientFailure
from shared.notify.service import Notifier, notifier_from
from shared.resources import get_resources

configure_logging("notify")
log = logging.getLogger("protostar.notify")
_notifier: Notifier | None = None  # keeps the webhooks' rate-limit state between events


@functions_framework.aio.http
@cloudevent_endpoint
async def notify(event: CloudEvent) -> None:
    global _notifier
    res = get_resources("notify")
    if _notifier is None:
        _notifier = await notifier_from(await res.pool(), res.settings)
    try:
        outcomes = await _notifier.handle(event)
    except TransientFailure as exc:  # the broker redelivers with backoff, then dead-letters
        raise ServiceUnavailable(exc.message, code="notification_deferred") from None
    log.info("event handled", extra={"event_id": event.id, "event_type": event.type, **outcomes})
