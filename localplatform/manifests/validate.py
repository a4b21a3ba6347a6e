"""Validate a manifest set against the Knative CRD schemas and the admission rules.

Two layers, both offline:

1. **Schema.** Every resource whose apiVersion/kind has a CRD in the CRD directory has
   each top-level field (``spec``) validated against that CRD's ``openAPIV3Schema``
   (see :mod:`localplatform.manifests.crds`). Resources without a CRD here (ConfigMap, Secret,
   HTTPRoute, StatefulSet, Application, ...) get the root checks only. A resource in a
   Knative API group whose version or kind has no CRD is refused.
2. **Admission rules** the schemas do not carry, which Knative's webhooks (or the
   RabbitMQ broker, or the local runtime) enforce: autoscaling annotation values,
   revision timeouts and concurrency, PingSource schedules and time zones, RabbitMQ
   parallelism, Trigger spec keys and filters, event types against the events catalog,
   and references (subscribers, sinks, dead-letter sinks, route backends) to Knative
   Services that exist in the set.

Plus the project's conventions for function Services, which the local runtime reads:
``protostar.dev/function`` and ``protostar.dev/surface`` labels, ``FUNCTION_TARGET`` and
``FUNCTION_SIGNATURE_TYPE`` env, image ``protostar/function-<function>``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from localplatform.manifests.crds import Crd, load_crds, schema_errors
from localplatform.manifests.crds import json_type as _type
from localplatform.manifests.durations import parse_go_duration, parse_iso_duration
from localplatform.manifests.load import Manifest
from localplatform.manifests.pingsource import ScheduleError, check_timezone, parse_schedule

SERVING_SERVICE = ("serving.knative.dev", "Service")
BROKER = ("eventing.knative.dev", "Broker")
TRIGGER = ("eventing.knative.dev", "Trigger")
PING_SOURCE = ("sources.knative.dev", "PingSource")
RABBITMQ_BROKER_CONFIG = ("eventing.knative.dev", "RabbitmqBrokerConfig")
RABBITMQ_CLUSTER = ("rabbitmq.com", "RabbitmqCluster")
HTTP_ROUTE = ("gateway.networking.k8s.io", "HTTPRoute")
SINK_BINDING = ("sources.knative.dev", "SinkBinding")

BROKER_CLASS = "eventing.knative.dev/broker.class"
RABBITMQ_BROKER_CLASS = "RabbitMQBroker"
PARALLELISM = "rabbitmq.eventing.knative.dev/parallelism"
AUTOSCALING = "autoscaling.knative.dev/"
VISIBILITY = "networking.knative.dev/visibility"

FUNCTION_LABEL = "protostar.dev/function"
SURFACE_LABEL = "protostar.dev/surface"
SURFACES = ("public", "admin", "internal")
SIGNATURE_TYPES = ("http", "cloudevent")
IMAGE_PREFIX = "protostar/function-"

TRIGGER_SPEC_KEYS = ("broker", "brokerRef", "delivery", "filter", "filters", "subscriber")
BACKOFF_POLICIES = ("exponential", "linear")

MAX_CONTAINER_CONCURRENCY = 1000
MAX_TIMEOUT_SECONDS = 600
PARALLELISM_RANGE = (1, 1000)

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FUNCTION_NAME = re.compile(r"[a-z][a-z0-9_]*")
_CE_ATTRIBUTE = re.compile(r"[a-z0-9]+")
_INT = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Problem:
    """One refusal: the file, the resource (kind/name) and a precise message."""

    source: Path
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.source)}: {self.kind}/{self.name}: {self.message}"


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class _Context:
    catalog: set[str] | None
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    external_services: set[str] = field(default_factory=set)
    brokers: dict[str, dict[str, Any]] = field(default_factory=dict)
    broker_configs: set[str] = field(default_factory=set)
    rabbitmq_clusters: set[str] = field(default_factory=set)

    def service_names(self) -> str:
        names = sorted({*self.services, *self.external_services})
        return ", ".join(names) or "none"


def validate(
    manifests: Sequence[Manifest],
    *,
    crd_dir: Path,
    catalog: set[str] | None,
    known_services: Iterable[str] = (),
    senders: Mapping[str, set[str]] | None = None,
) -> list[Problem]:
    """Every problem of ``manifests``, validated as one deployable set.

    ``catalog`` is the set of CloudEvent types Triggers may filter on (None: not
    checked). ``known_services`` names Knative Services that exist outside the set.
    ``senders`` (function -> event types, from the catalog) must each be selected by a
    SinkBinding when their Service is in the set.
    """
    crds = load_crds(crd_dir.absolute())
    knative_groups = {crd.group for crd in crds.values()}
    ctx = _context(manifests, catalog, known_services)
    problems: list[Problem] = []
    first_seen: dict[tuple[str, str, str, str], Manifest] = {}
    for manifest in manifests:
        messages = list(_root(manifest))
        api_version, kind, name = manifest.api_version, manifest.kind, manifest.name
        if api_version and kind and name:
            namespace = str(_mapping(manifest.doc.get("metadata")).get("namespace") or "")
            key = (_group(api_version), kind, namespace, name)
            if key in first_seen:
                other = first_seen[key]
                messages.append(
                    f"duplicate {kind} {name!r}: also defined in "
                    f"{display_path(other.source)} (document {other.index})"
                )
            else:
                first_seen[key] = manifest
        if api_version and kind:
            crd = crds.get((api_version, kind))
            if crd is not None:
                messages.extend(_schema(manifest, crd))
            elif _group(api_version) in knative_groups:
                served = sorted(c.api_version for (_, k), c in crds.items() if k == kind)
                hint = f" (served: {', '.join(served)})" if served else ""
                messages.append(f"no CRD serves apiVersion {api_version} kind {kind}{hint}")
            rule = _RULES.get((_group(api_version), kind))
            if rule is not None:
                messages.extend(rule(manifest.doc, ctx))
        problems.extend(
            Problem(manifest.source, kind or "?", name or "?", message) for message in messages
        )
    if senders and not problems:
        problems.extend(_unbound_senders(manifests, senders))
    if not problems:
        problems.extend(_double_bound(manifests))
    if not problems:
        from localplatform.manifests.budget import over_budget

        why = over_budget(manifests)
        if why is not None:
            postgres = next(
                m for m in manifests if m.kind == "StatefulSet" and m.name == "postgres"
            )
            problems.append(Problem(postgres.source, "StatefulSet", "postgres", why))
    return problems


def _unbound_senders(
    manifests: Sequence[Manifest], senders: Mapping[str, set[str]]
) -> Iterator[Problem]:
    from localplatform.runtime.topology import TopologyError, build_topology, unbound_senders

    try:
        topology = build_topology(manifests)
    except TopologyError as exc:
        yield Problem(manifests[0].source, "?", "?", exc.message)
        return
    for svc, message in unbound_senders(topology, senders):
        yield Problem(Path(svc.manifest), "Service", svc.name, message)


def _double_bound(manifests: Sequence[Manifest]) -> Iterator[Problem]:
    """A Service selected by two SinkBindings would get two K_SINKs: which wins is not
    defined, so it is refused (the runtime takes the first)."""
    from localplatform.runtime.topology import TopologyError, build_topology

    try:
        topology = build_topology(manifests)
    except TopologyError:
        return
    for svc in topology.services.values():
        binding = [b.name for b in topology.sinkbindings if b.selects(svc)]
        if len(binding) > 1:
            yield Problem(
                Path(svc.manifest),
                "Service",
                svc.name,
                f"selected by {len(binding)} SinkBindings ({', '.join(binding)}): each "
                "Service may have one K_SINK",
            )


# --------------------------------------------------------------------------- context


def _context(
    manifests: Sequence[Manifest], catalog: set[str] | None, known_services: Iterable[str]
) -> _Context:
    ctx = _Context(catalog=catalog, external_services=set(known_services))
    for manifest in manifests:
        ident = (_group(manifest.api_version), manifest.kind)
        if not manifest.name:
            continue
        if ident == SERVING_SERVICE:
            ctx.services[manifest.name] = manifest.doc
        elif ident == BROKER:
            ctx.brokers[manifest.name] = manifest.doc
        elif ident == RABBITMQ_BROKER_CONFIG:
            ctx.broker_configs.add(manifest.name)
        elif ident == RABBITMQ_CLUSTER:
            ctx.rabbitmq_clusters.add(manifest.name)
    return ctx


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def _key(where: str, key: str) -> str:
    return f'{where}["{key}"]'


# ------------------------------------------------------------------------ root checks


def _root(manifest: Manifest) -> Iterator[str]:
    doc = manifest.doc
    if not isinstance(doc.get("apiVersion"), str) or not doc["apiVersion"]:
        yield "apiVersion is missing"
    if not isinstance(doc.get("kind"), str) or not doc["kind"]:
        yield "kind is missing"
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        yield "metadata is missing (a resource needs metadata.name)"
        return
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        yield "metadata.name is missing"
    elif (_group(manifest.api_version), manifest.kind) == SERVING_SERVICE:
        if len(name) > 63 or not _DNS_LABEL.fullmatch(name):
            yield (
                f"metadata.name {name!r} is not a DNS label (lowercase letters, digits and '-',"
                " starting with a letter, at most 63 characters)"
            )
    elif len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        yield (
            f"metadata.name {name!r} is not a valid name (lowercase letters, digits, '-' and"
            " '.', at most 253 characters)"
        )
    namespace = metadata.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or not _DNS_LABEL.fullmatch(namespace)
    ):
        yield f"metadata.namespace {namespace!r} is not a valid namespace name"
    yield from _string_maps(metadata, "metadata")
    yield from _annotations(_mapping(metadata.get("annotations")), "metadata.annotations")


def _string_maps(metadata: Mapping[str, Any], where: str) -> Iterator[str]:
    """labels and annotations: maps of qualified names to strings (label values short)."""
    for field_name in ("labels", "annotations"):
        if field_name not in metadata:
            continue
        values = metadata[field_name]
        here = f"{where}.{field_name}"
        if not isinstance(values, dict):
            yield f"{here} must be a mapping, got {_type(values)}"
            continue
        for key, value in values.items():
            if not isinstance(key, str) or not _qualified_key(key):
                yield f"{here}: {key!r} is not a valid key ([prefix/]name)"
                continue
            if not isinstance(value, str):
                shown = "true" if value is True else "false" if value is False else value
                yield (
                    f"{_key(here, key)}: must be a string, got {_type(value)} {value!r}"
                    f' (quote it: "{shown}")'
                )
            elif field_name == "labels" and not (
                len(value) <= 63 and _LABEL_VALUE.fullmatch(value)
            ):
                yield f"{_key(here, key)}: {value!r} is not a valid label value"


def _qualified_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_QUALIFIED_NAME.fullmatch(name))


def _schema(manifest: Manifest, crd: Crd) -> Iterator[str]:
    for key, value in manifest.doc.items():
        if key in ("apiVersion", "kind", "metadata", "status"):
            continue
        if key not in crd.top_level:
            allowed = ", ".join(sorted({"apiVersion", "kind", "metadata", *crd.top_level}))
            yield f"unknown top-level field {key!r} (a {crd.kind} has: {allowed})"
            continue
        for error in schema_errors(crd, key, value):
            # labels/annotations value types are reported once, by _string_maps.
            if (
                error.validator == "type"
                and len(error.path) >= 3
                and error.path[-2] in ("labels", "annotations")
                and error.path[-3] == "metadata"
            ):
                continue
            yield f"{_path(error.path)}: {error.message} (schema of {crd.api_version} {crd.kind})"


# ------------------------------------------------------------------------ annotations

_AUTOSCALING_LEGACY = {
    "minScale": "min-scale",
    "maxScale": "max-scale",
    "initialScale": "initial-scale",
    "activationScale": "activation-scale",
    "targetUtilizationPercentage": "target-utilization-percentage",
    "targetBurstCapacity": "target-burst-capacity",
    "panicWindowPercentage": "panic-window-percentage",
    "panicThresholdPercentage": "panic-threshold-percentage",
    "scaleToZeroPodRetentionPeriod": "scale-to-zero-pod-retention-period",
    "scaleDownDelay": "scale-down-delay",
}
_Check = Callable[[str], Decimal]
_Rule = Callable[[dict[str, Any], "_Context"], Iterator[str]]
_AUTOSCALING_CLASSES = ("kpa.autoscaling.knative.dev", "hpa.autoscaling.knative.dev")
_AUTOSCALING_METRICS = ("concurrency", "rps", "cpu", "memory")


def _annotations(annotations: Mapping[str, Any], where: str) -> Iterator[str]:
    values = {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}
    yield from _autoscaling(values, where)
    if PARALLELISM in values:
        raw = values[PARALLELISM]
        low, high = PARALLELISM_RANGE
        if not _INT.fullmatch(raw) or not low <= int(raw) <= high:
            yield f"{_key(where, PARALLELISM)}: {raw!r} must be an integer in {low}..{high}"


def _autoscaling(annotations: Mapping[str, str], where: str) -> Iterator[str]:
    parsed: dict[str, Decimal] = {}
    for key, raw in annotations.items():
        if not key.startswith(AUTOSCALING):
            continue
        short = key.removeprefix(AUTOSCALING)
        here = _key(where, key)
        if short in _AUTOSCALING_LEGACY:
            yield f"{here}: write {AUTOSCALING}{_AUTOSCALING_LEGACY[short]} (kebab-case)"
            continue
        check = _AUTOSCALING_CHECKS.get(short)
        if check is None:
            known = ", ".join(sorted(_AUTOSCALING_CHECKS))
            yield f"{here}: unknown autoscaling annotation (known: {known})"
            continue
        try:
            parsed[short] = check(raw)
        except ValueError as exc:
            yield f"{here}: {exc}"
    low, high = parsed.get("min-scale"), parsed.get("max-scale")
    if low is not None and high is not None and high != 0 and high < low:
        yield f"{where}: max-scale {high} is less than min-scale {low}"
    activation = parsed.get("activation-scale")
    if activation is not None and high is not None and high != 0 and activation > high:
        yield f"{where}: activation-scale {activation} is greater than max-scale {high}"


def _non_negative_int(raw: str) -> Decimal:
    if not _INT.fullmatch(raw):
        raise ValueError(f"{raw!r} must be a non-negative integer")
    return Decimal(raw)


def _positive_int(raw: str) -> Decimal:
    if not _INT.fullmatch(raw) or int(raw) < 1:
        raise ValueError(f"{raw!r} must be an integer >= 1")
    return Decimal(raw)


def _number(low: Decimal, high: Decimal | None, what: str) -> _Check:
    def check(raw: str) -> Decimal:
        try:
            value = Decimal(raw.strip())
        except ArithmeticError:
            raise ValueError(f"{raw!r} must be a number {what}") from None
        if not value.is_finite() or value < low or (high is not None and value > high):
            raise ValueError(f"{raw!r} must be a number {what}")
        return value

    return check


def _duration(low: int, high: int, *, whole_seconds: bool) -> _Check:
    def show(seconds: int) -> str:
        return "1h" if seconds == 3600 else f"{seconds}s"

    def check(raw: str) -> Decimal:
        value = parse_go_duration(raw)
        if not low <= value <= high:
            raise ValueError(f"{raw!r} is outside {show(low)}..{show(high)}")
        if whole_seconds and value != value.to_integral_value():
            raise ValueError(f"{raw!r} must be a whole number of seconds")
        return value

    return check


def _one_of(allowed: tuple[str, ...]) -> _Check:
    def check(raw: str) -> Decimal:
        if raw not in allowed:
            raise ValueError(f"{raw!r} is not one of {', '.join(allowed)}")
        return Decimal(0)

    return check


_AUTOSCALING_CHECKS: dict[str, _Check] = {
    "class": _one_of(_AUTOSCALING_CLASSES),
    "metric": _one_of(_AUTOSCALING_METRICS),
    "min-scale": _non_negative_int,
    "max-scale": _non_negative_int,
    "initial-scale": _non_negative_int,
    "activation-scale": _positive_int,
    "target": _number(Decimal("0.01"), None, "> 0 (at least 0.01)"),
    "target-utilization-percentage": _number(Decimal(1), Decimal(100), "in 1..100"),
    "target-burst-capacity": _number(Decimal(-1), None, ">= -1"),
    "panic-window-percentage": _number(Decimal(1), Decimal(100), "in 1..100"),
    "panic-threshold-percentage": _number(Decimal(110), Decimal(1000), "in 110..1000"),
    "window": _duration(6, 3600, whole_seconds=True),
    "scale-to-zero-pod-retention-period": _duration(0, 3600, whole_seconds=False),
    "scale-down-delay": _duration(0, 3600, whole_seconds=True),
}


# ---------------------------------------------------------------------------- Service


def _service(doc: dict[str, Any], ctx: _Context) -> Iterator[str]:
    template = _mapping(_mapping(doc.get("spec")).get("template"))
    template_meta = _mapping(template.get("metadata"))
    yield from _string_maps(template_meta, "spec.template.metadata")
    yield from _annotations(
        _mapping(template_meta.get("annotations")), "spec.template.metadata.annotations"
    )
    revision = template.get("spec")
    if not isinstance(revision, dict):
        yield "spec.template.spec is missing (a Service needs spec.template.spec.containers)"
        return
    if "containers" not in revision:
        return  # the CRD schema reports the missing field
    containers = revision.get("containers")
    if not isinstance(containers, list) or not containers:
        yield "spec.template.spec.containers must list at least one container"
        return
    with_ports: list[int] = []
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        here = f"spec.template.spec.containers[{i}]"
        image = container.get("image")
        if not isinstance(image, str) or not image.strip():
            yield f"{here}.image is missing (Knative refuses a container without an image)"
        ports = container.get("ports")
        if isinstance(ports, list) and ports:
            with_ports.append(i)
            if len(ports) > 1:
                yield f"{here}.ports: Knative allows one port per Service, got {len(ports)}"
    if len(containers) > 1 and len(with_ports) != 1:
        yield (
            "spec.template.spec.containers: with several containers exactly one must declare"
            f" ports (the serving container), got {len(with_ports)}"
        )
    concurrency = revision.get("containerConcurrency")
    if _is_int(concurrency) and not 0 <= concurrency <= MAX_CONTAINER_CONCURRENCY:
        yield (
            f"spec.template.spec.containerConcurrency: {concurrency} is outside "
            f"0..{MAX_CONTAINER_CONCURRENCY} (Knative's container-concurrency-max-limit)"
        )
    for timeout_field in ("timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"):
        timeout = revision.get(timeout_field)
        if _is_int(timeout) and not 0 <= timeout <= MAX_TIMEOUT_SECONDS:
            yield (
                f"spec.template.spec.{timeout_field}: {timeout} is outside "
                f"0..{MAX_TIMEOUT_SECONDS} (Knative's max-revision-timeout-seconds)"
            )
    serving = containers[with_ports[0]] if with_ports else containers[0]
    yield from _function_convention(doc, template_meta, _mapping(serving))


def _function_convention(
    doc: dict[str, Any], template_meta: dict[str, Any], container: dict[str, Any]
) -> Iterator[str]:
    labels = _mapping(_mapping(doc.get("metadata")).get("labels"))
    function = labels.get(FUNCTION_LABEL)
    if not isinstance(function, str) or not function:
        yield (
            f"{_key('metadata.labels', FUNCTION_LABEL)} is missing: name the function's"
            " directory under functions/ (the local runtime runs functions/<it>/main.py)"
        )
        function = None
    elif not _FUNCTION_NAME.fullmatch(function):
        yield (
            f"{_key('metadata.labels', FUNCTION_LABEL)}: {function!r} is not a function"
            " directory name (lowercase letters, digits and '_')"
        )
    surface = labels.get(SURFACE_LABEL)
    if surface not in SURFACES:
        shown = "missing" if surface is None else repr(surface)
        yield (
            f"{_key('metadata.labels', SURFACE_LABEL)} is {shown}: "
            f"must be one of {', '.join(SURFACES)}"
        )
    if surface == "internal":
        template_labels = _mapping(template_meta.get("labels"))
        if "cluster-local" not in (labels.get(VISIBILITY), template_labels.get(VISIBILITY)):
            yield (
                f"an internal Service must not be reachable from outside the cluster: set "
                f"{_key('metadata.labels', VISIBILITY)}: cluster-local"
            )
    env: dict[str, Any] = {}
    for item in container.get("env") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            env[item["name"]] = item.get("value")
    target = env.get("FUNCTION_TARGET")
    if not isinstance(target, str) or not target.isidentifier():
        shown = "missing" if target is None else repr(target)
        yield f"container env FUNCTION_TARGET is {shown}: must be the Python function's name"
    signature = env.get("FUNCTION_SIGNATURE_TYPE")
    if signature not in SIGNATURE_TYPES:
        shown = "missing" if signature is None else repr(signature)
        yield (
            f"container env FUNCTION_SIGNATURE_TYPE is {shown}: "
            f"must be one of {', '.join(SIGNATURE_TYPES)}"
        )
    image = container.get("image")
    if function and isinstance(image, str) and image.strip():
        repository = _image_repository(image)
        expected = f"{IMAGE_PREFIX}{function}"
        if repository != expected and not repository.endswith(f"/{expected}"):
            yield (
                f"container image {image!r} does not match the function: expected {expected}"
                " (the tag is set by kustomize images:)"
            )


def _image_repository(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


# --------------------------------------------------------------------------- Eventing


def _destination(value: Any, where: str, ctx: _Context) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{where} is missing (needs ref or uri)"
        return
    ref, uri = value.get("ref"), value.get("uri")
    if ref is None and uri is None:
        yield f"{where} needs ref or uri"
        return
    if isinstance(ref, dict):
        kind, name, api_version = ref.get("kind"), ref.get("name"), ref.get("apiVersion")
        if not kind or not name or not api_version:
            missing = [k for k in ("apiVersion", "kind", "name") if not ref.get(k)]
            yield f"{where}.ref is missing {', '.join(missing)}"
        elif kind == "Service":
            if api_version != "serving.knative.dev/v1":
                yield (
                    f"{where}.ref: Service {name!r} must be apiVersion serving.knative.dev/v1"
                    f" (got {api_version}); subscribers are Knative Services"
                )
            elif name not in ctx.services and name not in ctx.external_services:
                yield (
                    f"{where}.ref names Service {name!r}, which is not a Knative Service in "
                    f"this manifest set (known: {ctx.service_names()})"
                )
        elif kind == "Broker" and name not in ctx.brokers:
            yield f"{where}.ref names Broker {name!r}, which is not in this manifest set"
    elif uri is not None and not _absolute_url(uri):
        yield f"{where}.uri {uri!r} must be an absolute URL when there is no ref"


def _absolute_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def _delivery(value: Any, where: str, ctx: _Context) -> Iterator[str]:
    if value is None:
        return
    if not isinstance(value, dict):
        yield f"{where} must be a mapping"
        return
    retry = value.get("retry")
    if _is_int(retry) and retry < 0:
        yield f"{where}.retry: {retry} must be >= 0"
    policy = value.get("backoffPolicy")
    if policy is not None and policy not in BACKOFF_POLICIES:
        yield f"{where}.backoffPolicy: {policy!r} is not one of {', '.join(BACKOFF_POLICIES)}"
    for duration_field in ("backoffDelay", "timeout"):
        raw = value.get(duration_field)
        if isinstance(raw, str):
            try:
                parse_iso_duration(raw)
            except ValueError as exc:
                yield f"{where}.{duration_field}: {exc}"
    if "deadLetterSink" in value:
        yield from _destination(value["deadLetterSink"], f"{where}.deadLetterSink", ctx)


def _broker(doc: dict[str, Any], ctx: _Context) -> Iterator[str]:
    annotations = _mapping(_mapping(doc.get("metadata")).get("annotations"))
    spec = _mapping(doc.get("spec"))
    if annotations.get(BROKER_CLASS) == RABBITMQ_BROKER_CLASS:
        config = spec.get("config")
        if not isinstance(config, dict):
            yield "spec.config is missing: a RabbitMQBroker needs a RabbitmqBrokerConfig"
        elif (config.get("apiVersion"), config.get("kind")) != (
            "eventing.knative.dev/v1alpha1",
            "RabbitmqBrokerConfig",
        ):
            yield (
                "spec.config must reference an eventing.knative.dev/v1alpha1 "
                f"RabbitmqBrokerConfig, got {config.get('apiVersion')} {config.get('kind')}"
            )
        elif config.get("name") not in ctx.broker_configs:
            yield (
                f"spec.config names RabbitmqBrokerConfig {config.get('name')!r}, which is not "
                "in this manifest set"
            )
    yield from _delivery(spec.get("delivery"), "spec.delivery", ctx)


def _trigger(doc: dict[str, Any], ctx: _Context) -> Iterator[str]:
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        yield "spec is missing (a Trigger needs spec.broker and spec.subscriber)"
        return
    unknown = sorted(str(k) for k in spec if k not in TRIGGER_SPEC_KEYS)
    if unknown:
        yield (
            f"spec: unknown field(s) {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(TRIGGER_SPEC_KEYS)})"
        )
    broker_name = spec.get("broker")
    if broker_name is None and spec.get("brokerRef") is None:
        yield "spec.broker is missing"
    broker = ctx.brokers.get(broker_name) if isinstance(broker_name, str) else None
    if isinstance(broker_name, str) and broker is None:
        yield f"spec.broker {broker_name!r} is not a Broker in this manifest set"
    broker_class = _mapping(_mapping(_mapping(broker).get("metadata")).get("annotations")).get(
        BROKER_CLASS
    )
    if "filters" in spec and broker_class == RABBITMQ_BROKER_CLASS:
        yield (
            f"spec.filters is ignored by Broker {broker_name!r} (class {RABBITMQ_BROKER_CLASS}):"
            " it reads only spec.filter.attributes (exact match)"
        )
    yield from _trigger_filter(spec.get("filter"), ctx)
    yield from _destination(spec.get("subscriber"), "spec.subscriber", ctx)
    yield from _delivery(spec.get("delivery"), "spec.delivery", ctx)


def _trigger_filter(value: Any, ctx: _Context) -> Iterator[str]:
    if value is None:
        return
    if not isinstance(value, dict):
        yield "spec.filter must be a mapping with attributes"
        return
    # Keys other than attributes are refused by the CRD schema (filter is a closed object).
    attributes = value.get("attributes")
    if attributes is None:
        return
    if not isinstance(attributes, dict):
        yield "spec.filter.attributes must be a mapping of attribute names to strings"
        return
    for key, wanted in attributes.items():
        if not isinstance(key, str) or not _CE_ATTRIBUTE.fullmatch(key):
            yield (
                f"spec.filter.attributes: {key!r} is not a CloudEvents attribute name"
                " (lowercase letters and digits)"
            )
        elif not isinstance(wanted, str):
            yield f"spec.filter.attributes.{key}: must be a string, got {_type(wanted)}"
    event_type = attributes.get("type")
    if ctx.catalog is not None and isinstance(event_type, str) and event_type not in ctx.catalog:
        known = ", ".join(sorted(ctx.catalog)) or "none"
        yield (
            f"spec.filter.attributes.type {event_type!r} is not in the events catalog"
            f" (known: {known})"
        )


def _ping_source(doc: dict[str, Any], ctx: _Context) -> Iterator[str]:
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        yield "spec is missing (a PingSource needs spec.schedule and spec.sink)"
        return
    schedule = spec.get("schedule")
    if isinstance(schedule, str):
        try:
            parse_schedule(schedule)
        except ScheduleError as exc:
            yield f"spec.schedule: {exc}"
    timezone = spec.get("timezone")
    if isinstance(timezone, str):
        try:
            check_timezone(timezone)
        except ScheduleError as exc:
            yield f"spec.timezone: {exc}"
    data, data64 = spec.get("data"), spec.get("dataBase64")
    if data is not None and data64 is not None:
        yield "spec.data and spec.dataBase64 are mutually exclusive"
    elif isinstance(data64, str):
        try:
            # Like Go's base64.StdEncoding: line breaks are ignored, nothing else is.
            base64.b64decode(data64.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            yield "spec.dataBase64 is not valid base64"
    elif isinstance(data, str) and spec.get("contentType") == "application/json":
        try:
            json.loads(data)
        except json.JSONDecodeError as exc:
            yield f"spec.data is not valid JSON (contentType is application/json): {exc}"
    yield from _destination(spec.get("sink"), "spec.sink", ctx)


def _sink_binding(doc: dict[str, Any], ctx: _Context) -> Iterator[str]:
    """The subject is Knative Services (by name or label selector) that exist; the sink
    a Broker, Service or URL of this set."""
    spec = _mapping(doc.get("spec"))
    yield from _destination(spec.get("sink"), "spec.sink", ctx)
    subject = _mapping(spec.get("subject"))
    if (subject.get("apiVersion"), subject.get("kind")) != ("serving.knative.dev/v1", "Service"):
        yield (
            "spec.subject must be apiVersion serving.knative.dev/v1 kind Service (our "
            f"functions), got {subject.get('apiVersion')} {subject.get('kind')}"
        )
        return
    name, selector = subject.get("name"), subject.get("selector")
    if (name is None) == (selector is None):
        yield "spec.subject needs exactly one of name and selector"
        return
    if name is not None:
        if name not in ctx.services:
            yield f"spec.subject names Service {name!r}, which is not in this manifest set"
        return
    labels = _mapping(_mapping(selector).get("matchLabels"))
    if _mapping(selector).get("matchExpressions"):
        yield "spec.subject.selector.matchExpressions is not supported here; use matchLabels"
    if not labels:
        yield "spec.subject.selector needs matchLabels (an empty selector binds everything)"
        return
    chosen = [
        svc
        for svc, service_doc in ctx.services.items()
        if all(
            _mapping(_mapping(service_doc.get("metadata")).get("labels")).get(k) == v
            for k, v in labels.items()
        )
    ]
    if not chosen:
        yield f"spec.subject.selector {dict(labels)} selects no Service of this manifest set"


def _rabbitmq_broker_config(doc: dict[str, Any], ctx: _Context) -> Iterator[str]:
    reference = _mapping(doc.get("spec")).get("rabbitmqClusterReference")
    if not isinstance(reference, dict):
        yield "spec.rabbitmqClusterReference is missing"
        return
    name, secret = reference.get("name"), reference.get("connectionSecret")
    if (name is None) == (secret is None):
        yield "spec.rabbitmqClusterReference: set either name or connectionSecret, not both"
    elif name is not None and ctx.rabbitmq_clusters and name not in ctx.rabbitmq_clusters:
        yield (
            f"spec.rabbitmqClusterReference.name {name!r} is not a RabbitmqCluster in this "
            f"manifest set (known: {', '.join(sorted(ctx.rabbitmq_clusters))})"
        )


def _http_route(doc: dict[str, Any], ctx: _Context) -> Iterator[str]:
    spec = _mapping(doc.get("spec"))
    if not spec.get("parentRefs"):
        yield "spec.parentRefs is missing (the Gateway this route attaches to)"
    rules = spec.get("rules")
    if not isinstance(rules, list):
        return
    for i, rule in enumerate(rules):
        for j, backend in enumerate(_mapping(rule).get("backendRefs") or []):
            if not isinstance(backend, dict):
                continue
            here = f"spec.rules[{i}].backendRefs[{j}]"
            group, kind = backend.get("group", ""), backend.get("kind", "Service")
            if kind != "Service" or group not in ("", "serving.knative.dev"):
                continue
            name = backend.get("name")
            target = ctx.services.get(name) if isinstance(name, str) else None
            if target is None and name not in ctx.external_services:
                yield (
                    f"{here}.name {name!r} is not a Knative Service in this manifest set "
                    f"(known: {ctx.service_names()})"
                )
                continue
            surface = _mapping(_mapping(_mapping(target).get("metadata")).get("labels")).get(
                SURFACE_LABEL
            )
            if surface == "internal":
                yield (
                    f"{here} routes to {name!r}, an internal Service "
                    f"({SURFACE_LABEL}: internal); only public and admin Services are routed"
                )


_RULES: dict[tuple[str, str], _Rule] = {
    SERVING_SERVICE: _service,
    BROKER: _broker,
    TRIGGER: _trigger,
    PING_SOURCE: _ping_source,
    RABBITMQ_BROKER_CONFIG: _rabbitmq_broker_config,
    HTTP_ROUTE: _http_route,
    SINK_BINDING: _sink_binding,
}
