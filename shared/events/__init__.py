"""CloudEvents: the catalog of types, HTTP encoding, outbox, idempotent consumers."""

from shared.events.catalog import Catalog, load_catalog
from shared.events.cloudevent import BadEvent, CloudEvent, new_event, parse_http, to_binary

__all__ = [
    "BadEvent",
    "Catalog",
    "CloudEvent",
    "load_catalog",
    "new_event",
    "parse_http",
    "to_binary",
]
