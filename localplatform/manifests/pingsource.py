"""Knative PingSource (``sources.knative.dev/v1``) semantics for the local runtime.

The local runtime reads the same PingSource manifests a cluster does and must fire them
at the same instants, with the same CloudEvent. This module is the pure part of that:
parsing and validating ``spec.schedule`` / ``spec.timezone``, computing fire times, and
building the event attributes. It does no I/O and keeps no clock: callers pass instants.

The schedule grammar and fire times are in :mod:`localplatform.manifests.cron`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from localplatform.manifests.cron import (
    Schedule,
    ScheduleError,
    as_utc,
    check_timezone,
    parse_schedule,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_TIMEZONE",
    "PING_EVENT_TYPE",
    "PingSourceError",
    "PingSourceSpec",
    "Schedule",
    "ScheduleError",
    "check_timezone",
    "parse_schedule",
    "ping_event_attributes",
    "ping_event_source",
]

PING_EVENT_TYPE = "dev.knative.sources.ping"
DEFAULT_NAMESPACE = "protostar"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_CONTENT_TYPE = "application/json"

API_VERSIONS = frozenset({"sources.knative.dev/v1", "sources.knative.dev/v1beta2"})
SINK_API_VERSIONS = frozenset({"serving.knative.dev/v1", "v1"})


class PingSourceError(ValueError):
    """A PingSource manifest is malformed; the message names the offending field."""


# --------------------------------------------------------------------------- manifest

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_SPEC_KEYS = frozenset({"schedule", "timezone", "contentType", "data", "dataBase64", "sink"})


@dataclass(frozen=True)
class PingSourceSpec:
    """One PingSource, validated. Build it from YAML with :meth:`from_manifest`.

    ``data`` is the event payload (``spec.data`` encoded as UTF-8, or ``spec.dataBase64``
    decoded); ``sink_service`` the Knative Service the events go to and ``sink_uri_path``
    the relative ``spec.sink.uri`` appended to it (always starting with "/"), if any.
    """

    name: str
    namespace: str
    schedule: str
    timezone: str
    data: bytes | None
    content_type: str | None
    sink_service: str
    sink_uri_path: str | None
    parsed_schedule: Schedule = field(init=False, repr=False, compare=False)
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        who = f"PingSource {self.namespace}/{self.name}"
        if not (len(self.name) <= 253 and _DNS_SUBDOMAIN.fullmatch(self.name)):
            raise PingSourceError(
                f"PingSource metadata.name {self.name!r} is not a DNS-1123 subdomain"
            )
        if not _DNS_LABEL.fullmatch(self.namespace):
            raise PingSourceError(f"{who}: metadata.namespace is not a DNS-1123 label")
        if not _DNS_LABEL.fullmatch(self.sink_service):
            raise PingSourceError(
                f"{who}: spec.sink.ref.name {self.sink_service!r} is not a DNS-1123 label"
            )
        if self.sink_uri_path is not None and not self.sink_uri_path.startswith("/"):
            raise PingSourceError(
                f'{who}: sink_uri_path {self.sink_uri_path!r} must start with "/"'
            )
        try:
            parsed = parse_schedule(self.schedule)
            zone = check_timezone(self.timezone)
        except ScheduleError as exc:
            where = "spec.timezone" if exc.field == "timezone" else "spec.schedule"
            raise ScheduleError(f"{who}: {where}: {exc}", field=exc.field, value=exc.value) from exc
        object.__setattr__(self, "parsed_schedule", parsed)
        object.__setattr__(self, "zone", zone)

    @property
    def source(self) -> str:
        """The CloudEvent ``source`` Knative gives this PingSource's events."""
        return ping_event_source(self.namespace, self.name)

    def next_fire(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after``, as an aware UTC datetime."""
        return self.parsed_schedule.next_after(after, self.zone)

    def fires_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Fire times in ``(start, end]``, oldest first (see :meth:`Schedule.fires_between`)."""
        return self.parsed_schedule.fires_between(start, end, self.zone)

    @classmethod
    def from_manifest(cls, doc: Mapping[str, Any]) -> PingSourceSpec:
        """Read a ``sources.knative.dev/v1`` PingSource document (already YAML-decoded)."""
        if not isinstance(doc, Mapping):
            raise PingSourceError(
                f"PingSource manifest must be a mapping, got {type(doc).__name__}"
            )
        metadata = _mapping(doc.get("metadata"), "metadata", "PingSource")
        name = _string(metadata.get("name"), "metadata.name", "PingSource", required=True)
        namespace = (
            _string(metadata.get("namespace"), "metadata.namespace", f"PingSource {name}")
            or DEFAULT_NAMESPACE
        )
        who = f"PingSource {namespace}/{name}"
        kind = doc.get("kind")
        if kind is not None and kind != "PingSource":
            raise PingSourceError(f"{who}: kind is {kind!r}, expected 'PingSource'")
        api_version = doc.get("apiVersion")
        if api_version is not None and api_version not in API_VERSIONS:
            raise PingSourceError(
                f"{who}: apiVersion {api_version!r} is not one of {sorted(API_VERSIONS)}"
            )
        spec = _mapping(doc.get("spec"), "spec", who)
        unknown = sorted(set(spec) - _SPEC_KEYS)
        if unknown:
            raise PingSourceError(
                f"{who}: unsupported field(s) {', '.join('spec.' + str(k) for k in unknown)}; "
                f"the local runtime reads {', '.join('spec.' + k for k in sorted(_SPEC_KEYS))}"
            )
        schedule = _string(spec.get("schedule"), "spec.schedule", who, required=True)
        timezone = _string(spec.get("timezone"), "spec.timezone", who) or DEFAULT_TIMEZONE
        content_type = _string(spec.get("contentType"), "spec.contentType", who) or None
        data = _data(spec, who)
        sink_service, sink_uri_path = _sink(spec.get("sink"), namespace, who)
        return cls(
            name=name,
            namespace=namespace,
            schedule=schedule,
            timezone=timezone,
            data=data,
            content_type=content_type,
            sink_service=sink_service,
            sink_uri_path=sink_uri_path,
        )


def _mapping(value: object, where: str, who: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PingSourceError(
            f"{who}: {where} must be a mapping, got {'nothing' if value is None else repr(value)}"
        )
    return value


def _string(value: object, where: str, who: str, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise PingSourceError(f"{who}: {where} is required")
        return ""
    if not isinstance(value, str):
        raise PingSourceError(f"{who}: {where} must be a string, got {value!r}")
    return value


def _data(spec: Mapping[str, Any], who: str) -> bytes | None:
    text = _string(spec.get("data"), "spec.data", who)
    encoded = _string(spec.get("dataBase64"), "spec.dataBase64", who)
    if text and encoded:
        raise PingSourceError(f"{who}: spec.data and spec.dataBase64 are mutually exclusive")
    if text:
        return text.encode("utf-8")
    if encoded:
        try:
            return base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PingSourceError(f"{who}: spec.dataBase64 is not valid base64: {exc}") from exc
    return None


def _sink(value: object, namespace: str, who: str) -> tuple[str, str | None]:
    sink = _mapping(value, "spec.sink", who)
    ref_value = sink.get("ref")
    uri = _string(sink.get("uri"), "spec.sink.uri", who) or None
    if ref_value is None:
        raise PingSourceError(
            f"{who}: spec.sink.ref is required (a Knative Service); the local runtime cannot "
            f"deliver to a bare spec.sink.uri ({uri!r})"
        )
    ref = _mapping(ref_value, "spec.sink.ref", who)
    kind = _string(ref.get("kind"), "spec.sink.ref.kind", who, required=True)
    if kind != "Service":
        raise PingSourceError(f"{who}: spec.sink.ref.kind is {kind!r}, expected 'Service'")
    api_version = _string(ref.get("apiVersion"), "spec.sink.ref.apiVersion", who)
    if api_version and api_version not in SINK_API_VERSIONS:
        raise PingSourceError(
            f"{who}: spec.sink.ref.apiVersion {api_version!r} is not one of "
            f"{sorted(SINK_API_VERSIONS)}"
        )
    service = _string(ref.get("name"), "spec.sink.ref.name", who, required=True)
    ref_namespace = _string(ref.get("namespace"), "spec.sink.ref.namespace", who)
    if ref_namespace and ref_namespace != namespace:
        raise PingSourceError(
            f"{who}: spec.sink.ref.namespace {ref_namespace!r} differs from the source's "
            f"namespace {namespace!r}; only same-namespace sinks are supported"
        )
    if uri is None:
        return service, None
    if _URI_SCHEME.match(uri) or uri.startswith("//"):
        raise PingSourceError(
            f"{who}: spec.sink.uri {uri!r} must be relative (a path) when spec.sink.ref is set"
        )
    return service, uri if uri.startswith("/") else "/" + uri


# --------------------------------------------------------------------------- events


def ping_event_source(namespace: str, name: str) -> str:
    """A PingSource's CloudEvent ``source``: ``/apis/v1/namespaces/<ns>/pingsources/<name>``."""
    return f"/apis/v1/namespaces/{namespace}/pingsources/{name}"


def _rfc3339(moment: datetime) -> str:
    utc = as_utc(moment, "fire_time")
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def ping_event_attributes(
    spec: PingSourceSpec, fire_time: datetime, event_id: str
) -> dict[str, str]:
    """CloudEvent attributes of the event ``spec`` sends for its fire at ``fire_time``.

    ``time`` is the scheduled fire time (RFC 3339, UTC, ``Z``), not the send time.
    ``datacontenttype`` is ``spec.contentType`` when set, else ``application/json`` when the
    source carries data, else absent.
    """
    if not event_id:
        raise ValueError("event_id must be a non-empty string")
    attributes = {
        "specversion": "1.0",
        "id": event_id,
        "type": PING_EVENT_TYPE,
        "source": spec.source,
        "time": _rfc3339(fire_time),
    }
    if spec.content_type:
        attributes["datacontenttype"] = spec.content_type
    elif spec.data is not None:
        attributes["datacontenttype"] = DEFAULT_CONTENT_TYPE
    return attributes
