"""The events catalog (``events/catalog.yaml``) and JSON Schema validation of event data."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.events.cloudevent import BadEvent, CloudEvent

if TYPE_CHECKING:  # PyYAML and jsonschema load with the catalog, not with every function
    from jsonschema import Draft202012Validator

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


@dataclass(frozen=True)
class EventType:
    type: str
    schema: Mapping[str, Any]
    producer: str
    consumers: tuple[str, ...]
    description: str = ""
    sensitive: tuple[str, ...] = ()
    validator: Draft202012Validator = field(compare=False, repr=False, default=None)  # type: ignore[assignment]


class Catalog:
    def __init__(self, entries: Mapping[str, EventType], senders: Iterable[str] = ()) -> None:
        self.entries = dict(entries)
        self.relays = frozenset(senders)

    def senders(self) -> dict[str, set[str]]:
        """Each function that sends events -> the types it sends (a relay: ``*``)."""
        out: dict[str, set[str]] = {}
        for entry in self.entries.values():
            if entry.producer:
                out.setdefault(entry.producer, set()).add(entry.type)
        for relay in self.relays:
            out.setdefault(relay, set()).add("*")
        return out

    def __contains__(self, type_: str) -> bool:
        return type_ in self.entries

    @property
    def types(self) -> set[str]:
        return set(self.entries)

    def check_data(self, type_: str, data: Any) -> None:
        """Raise BadEvent unless ``data`` matches the type's schema (unknown type: refused)."""
        entry = self.entries.get(type_)
        if entry is None:
            raise BadEvent(
                f"event type {type_!r} is not in the events catalog", code="unknown_event_type"
            )
        errors = sorted(entry.validator.iter_errors(data), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "data"
            raise BadEvent(
                f"{type_} data is invalid at {where}: {first.message}"[:500],
                code="invalid_event_data",
            )

    def check_event(self, event: CloudEvent, *, allow_unknown: bool = False) -> None:
        """Validate a received event's data when its type is catalogued."""
        if event.type not in self.entries:
            if allow_unknown:
                return
            self.check_data(event.type, None)
        if event.data is not None and not event.is_json():
            raise BadEvent(
                f"{event.type} data must be application/json "
                f"(got {event.datacontenttype or 'no content type'})",
                code="bad_content_type",
            )
        self.check_data(event.type, event.json())


def load_catalog(directory: Path = EVENTS_DIR) -> Catalog:
    import yaml
    from jsonschema import Draft202012Validator, FormatChecker

    raw = yaml.safe_load((directory / "catalog.yaml").read_text()) or {}
    entries: dict[str, EventType] = {}
    for item in raw.get("events") or []:
        schema = json.loads((directory / "schemas" / item["schema"]).read_text())
        Draft202012Validator.check_schema(schema)
        entries[item["type"]] = EventType(
            type=item["type"],
            schema=schema,
            producer=item.get("producer", ""),
            consumers=tuple(item.get("consumers") or ()),
            description=item.get("description", ""),
            sensitive=tuple(item.get("sensitive") or ()),
            validator=Draft202012Validator(schema, format_checker=FormatChecker()),
        )
    return Catalog(entries, raw.get("senders") or ())


@functools.cache
def default_catalog() -> Catalog:
    return load_catalog()
