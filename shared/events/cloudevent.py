"""CloudEvents 1.0 over HTTP: one strict parser (binary and structured mode) and the
binary-mode encoder used for every delivery.

A malformed event is a :class:`BadEvent` (HTTP 400, never retried): missing or empty
``id``/``source``/``type``, a ``specversion`` other than 1.0, a bad attribute name, a
content type that carries no event, or a body over the size limit.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from shared.errors import BadRequest

MAX_EVENT_BYTES = 1024 * 1024
REQUIRED = ("id", "source", "type", "specversion")
_OPTIONAL = ("datacontenttype", "dataschema", "subject", "time")
_STRUCTURED = "application/cloudevents+json"
_BATCH = "application/cloudevents-batch+json"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789")
# Header values are percent-encoded outside printable ASCII, and for '%' and '"'.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '%"')


class BadEvent(BadRequest):
    code = "bad_event"


@dataclass(frozen=True)
class CloudEvent:
    """Context attributes (strings, extensions included) and the raw data bytes."""

    attributes: Mapping[str, str]
    data: bytes | None = None
    _json: Any = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.attributes["id"]

    @property
    def source(self) -> str:
        return self.attributes["source"]

    @property
    def type(self) -> str:
        return self.attributes["type"]

    @property
    def datacontenttype(self) -> str | None:
        return self.attributes.get("datacontenttype")

    @property
    def extensions(self) -> dict[str, str]:
        known = set(REQUIRED) | set(_OPTIONAL)
        return {k: v for k, v in self.attributes.items() if k not in known}

    def is_json(self) -> bool:
        return is_json_type(self.datacontenttype)

    def json(self) -> Any:
        """The data parsed as JSON (BadEvent when it is not JSON)."""
        if self.data is None:
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            raise BadEvent("event data is not valid JSON") from None

    def with_attributes(self, **changes: str | None) -> CloudEvent:
        attrs = dict(self.attributes)
        for key, value in changes.items():
            if value is None:
                attrs.pop(key, None)
            else:
                attrs[key] = value
        return CloudEvent(attrs, self.data)


def is_json_type(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "text/json"


def new_event(
    type_: str,
    source: str,
    data: Any = None,
    *,
    subject: str | None = None,
    event_id: str | None = None,
    extensions: Mapping[str, str] | None = None,
) -> CloudEvent:
    """A fresh event with JSON data, a uuid id and the current time."""
    attrs = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if subject:
        attrs["subject"] = subject
    body = None
    if data is not None:
        attrs["datacontenttype"] = "application/json"
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    attrs.update(extensions or {})
    return check_attributes(CloudEvent(attrs, body))


def check_attributes(event: CloudEvent) -> CloudEvent:
    attrs = event.attributes
    for name in REQUIRED:
        value = attrs.get(name)
        if value is None or value == "":
            raise BadEvent(f"CloudEvent attribute '{name}' is missing or empty")
    if attrs["specversion"] != "1.0":
        raise BadEvent(f"unsupported specversion {attrs['specversion']!r}; expected '1.0'")
    for name in attrs:
        if not name or set(name) - _NAME_OK or len(name) > 40:
            raise BadEvent(f"invalid CloudEvent attribute name {name[:40]!r}")
    if "time" in attrs:
        try:
            datetime.fromisoformat(attrs["time"].replace("Z", "+00:00"))
        except ValueError:
            raise BadEvent("CloudEvent attribute 'time' is not RFC 3339") from None
    return event


def parse_http(
    headers: Mapping[str, str], body: bytes, *, max_bytes: int = MAX_EVENT_BYTES
) -> CloudEvent:
    """Parse a CloudEvent from an HTTP request (binary or structured content mode).

    ``headers`` must be case-insensitive (Starlette's and httpx's are) or lower-case.
    """
    if len(body) > max_bytes:
        raise BadEvent(
            f"event body is {len(body)} bytes; the limit is {max_bytes}", code="event_too_large"
        )
    content_type = headers.get("content-type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == _BATCH:
        raise BadEvent("batched CloudEvents are not supported")
    if media == _STRUCTURED:
        return _parse_structured(body)
    attrs: dict[str, str] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower.startswith("ce-"):
            attrs[lower[3:]] = unquote(value)
    if not attrs:
        raise BadEvent(
            "not a CloudEvent: no ce-* headers and content type is not "
            f"{_STRUCTURED} (got {content_type or 'none'})",
            code="bad_content_type",
        )
    attrs.pop("datacontenttype", None)
    if content_type:
        attrs["datacontenttype"] = content_type
    return check_attributes(CloudEvent(attrs, body if body else None))


def _parse_structured(body: bytes) -> CloudEvent:
    try:
        envelope = json.loads(body)
    except ValueError:
        raise BadEvent("structured CloudEvent body is not valid JSON") from None
    if not isinstance(envelope, dict):
        raise BadEvent("structured CloudEvent body must be a JSON object")
    attrs: dict[str, str] = {}
    for key, value in envelope.items():
        if key in ("data", "data_base64"):
            continue
        if isinstance(value, str):
            attrs[key] = value
        elif isinstance(value, bool) or value is None:
            raise BadEvent(f"CloudEvent attribute {key!r} must be a string or integer")
        elif isinstance(value, int):
            attrs[key] = str(value)
        else:
            raise BadEvent(f"CloudEvent attribute {key!r} must be a string or integer")
    data: bytes | None = None
    if "data_base64" in envelope:
        try:
            data = base64.b64decode(envelope["data_base64"], validate=True)
        except (ValueError, TypeError):
            raise BadEvent("data_base64 is not valid base64") from None
    elif "data" in envelope:
        value = envelope["data"]
        content_type = attrs.get("datacontenttype", "application/json")
        if isinstance(value, str) and not is_json_type(content_type):
            data = value.encode()
        else:
            attrs.setdefault("datacontenttype", "application/json")
            data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return check_attributes(CloudEvent(attrs, data))


def to_binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body of the binary-mode HTTP message for ``event``."""
    headers: dict[str, str] = {}
    for key, value in event.attributes.items():
        if key == "datacontenttype":
            headers["content-type"] = value
        else:
            headers[f"ce-{key}"] = quote(value, safe=_HEADER_SAFE)
    return headers, event.data or b""


def to_structured(event: CloudEvent) -> bytes:
    envelope: dict[str, Any] = dict(event.attributes)
    if event.data is not None:
        if event.is_json():
            envelope["data"] = json.loads(event.data)
        else:
            envelope["data_base64"] = base64.b64encode(event.data).decode()
    return json.dumps(envelope, ensure_ascii=False).encode()
