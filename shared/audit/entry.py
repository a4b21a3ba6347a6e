"""What the audit log records of an event: its context attributes and its data, minus
the fields the events catalog marks ``sensitive``. Pure; no I/O."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from shared.events.catalog import Catalog, default_catalog
from shared.events.cloudevent import CloudEvent

# The audit-worthy events the audit function subscribes to (one Trigger each).
AUDITED = frozenset(
    {
        "dev.protostar.user.signed_up",
        "dev.protostar.auth.login_failed",
        "dev.protostar.user.role_changed",  # invite redemption, and admin promotions
        "dev.protostar.user.deleted",
        "dev.protostar.document.uploaded",
        "dev.protostar.document.deleted",
        "dev.protostar.document.failed",
        "dev.protostar.quota.exhausted",
    }
)
_ATTRIBUTES = ("id", "source", "type", "time", "subject")


def event_key(source: str, event_id: str) -> str:
    """The identity of an event (CloudEvents: ``source`` + ``id``) as a fixed-size key."""
    return hashlib.sha256(json.dumps([source, event_id]).encode()).hexdigest()


def entry_fields(event: CloudEvent, at: datetime, catalog: Catalog | None = None) -> dict[str, Any]:
    """The fields of the audit line for ``event``, written at ``at`` (UTC)."""
    fields: dict[str, Any] = {
        name: event.attributes[name] for name in _ATTRIBUTES if name in event.attributes
    }
    fields["at"] = at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    data = event.json() if event.is_json() else None
    entry = (catalog or default_catalog()).entries.get(event.type)
    if isinstance(data, dict) and entry is not None and entry.sensitive:
        removed = sorted(k for k in entry.sensitive if k in data)
        data = {k: v for k, v in data.items() if k not in entry.sensitive}
        if removed:
            fields["redacted"] = removed
    if data is not None:
        fields["data"] = data
    return fields
