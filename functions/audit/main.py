"""audit: append every audit-worthy event, once, to the hash-chained daily files in
AUDIT_DIR; answers 2xx only once the line is on disk (fsynced)."""

import logging

import functions_framework.aio

from shared.audit.entry import AUDITED
from shared.audit.log import AuditLog
from shared.events.cloudevent import BadEvent, CloudEvent
from shared.events.receive import cloudevent_endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("audit")
log = logging.getLogger("protostar.audit")
_log: AuditLog | None = None


@functions_framework.aio.http
@cloudevent_endpoint
async def audit(event: CloudEvent) -> None:
    global _log
    if event.type not in AUDITED:
        raise BadEvent(f"audit does not record {event.type}", code="unexpected_event_type")
    _log = _log or AuditLog(get_resources("audit").settings.audit_path)
    appended = await _log.record(event)
    log.info(
        "audit event recorded" if appended.written else "audit event already recorded",
        extra={"event_id": event.id, "event_type": event.type, "file": appended.file},
    )
