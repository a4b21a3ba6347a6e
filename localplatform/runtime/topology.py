"""What the local runtime runs, read from the Knative manifests (the single source of truth).

- ``serving.knative.dev/v1`` Service -> a functions-framework process
  (``metadata.labels["protostar.dev/function"]`` names ``functions/<dir>/main.py``;
  container env ``FUNCTION_TARGET`` / ``FUNCTION_SIGNATURE_TYPE``; autoscaling
  annotations, ``containerConcurrency`` and ``timeoutSeconds`` apply).
- Broker (+ its ``spec.delivery``), Triggers (``spec.filter.attributes``,
  ``spec.delivery``, the RabbitMQ parallelism annotation), PingSources.
- ``HTTPRoute`` rules -> the ingress: those attached to the Gateway's ``admin-*``
  listeners on the admin port (``PROTOSTAR_ADMIN_PORT``), the others on the public one;
  with one port, the public routes first.
- ``SinkBinding`` (sources.knative.dev/v1) -> ``K_SINK`` (and ``K_CE_OVERRIDES``) for
  exactly the Services its subject selects; Knative Serving injects nothing else.
- ConfigMaps (``v1``): their data, for the Services' ``envFrom`` and ``configMapKeyRef``.
- ``batch/v1`` Jobs (the migration, an ArgoCD PreSync hook): run before the Services.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localplatform.broker.model import DeliverySpec
from localplatform.manifests.durations import parse_go_duration, parse_iso_duration
from localplatform.manifests.load import Manifest
from localplatform.manifests.pingsource import PingSourceSpec
from shared.errors import ProtostarError

SERVING = "serving.knative.dev/v1"
PARALLELISM = "rabbitmq.eventing.knative.dev/parallelism"


class TopologyError(ProtostarError):
    code = "bad_topology"


def go_duration(value: str) -> float:
    """Seconds of a Go duration such as ``2m``, ``90s`` or ``1h30m``."""
    try:
        return float(parse_go_duration(value))
    except ValueError as exc:
        raise TopologyError(str(exc)) from None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    function: str
    target: str
    signature_type: str
    env: Mapping[str, str]
    surface: str = "internal"
    min_scale: int = 0
    max_scale: int = 0
    # Scaled to zero after this long without requests: the larger of the autoscaling
    # window (default 60s) and the scale-to-zero retention period.
    idle_seconds: float = 60.0
    container_concurrency: int = 0
    timeout_seconds: int = 300
    labels: Mapping[str, str] = field(default_factory=dict)
    manifest: str = ""  # the file it was read from, for messages
    # The container and the pod's volumes as written: its environment and files are
    # made from them (localplatform.runtime.environment), as the kubelet would.
    container: Mapping[str, Any] = field(default_factory=dict)
    volumes: tuple[Mapping[str, Any], ...] = ()

    def source(self, root: Path) -> Path:
        return root / "functions" / self.function / "main.py"


@dataclass(frozen=True)
class JobSpec:
    """A batch/v1 Job (the migration): run to completion before the Services start,
    as ArgoCD runs a PreSync hook before it syncs the rest."""

    name: str
    command: tuple[str, ...]
    container: Mapping[str, Any]
    volumes: tuple[Mapping[str, Any], ...] = ()
    hook: str = ""
    manifest: str = ""


@dataclass(frozen=True)
class SinkRef:
    """Either a Service (by name, plus a path) or an absolute URI."""

    service: str | None = None
    path: str = ""
    uri: str | None = None
    broker: str | None = None


@dataclass(frozen=True)
class SinkBindingDecl:
    """A SinkBinding: its subject (Services by name or by label selector) and its sink."""

    name: str
    sink: SinkRef
    subject_name: str | None = None
    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[Mapping[str, Any], ...] = ()
    ce_overrides: Mapping[str, Any] = field(default_factory=dict)
    manifest: str = ""

    def selects(self, service: ServiceSpec) -> bool:
        if self.subject_name is not None:
            return service.name == self.subject_name
        labels = service.labels
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        return all(_expression(e, labels) for e in self.match_expressions)


def _expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise TopologyError(f"unknown label selector operator {op!r}")


@dataclass(frozen=True)
class BrokerDecl:
    name: str
    delivery: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TriggerDecl:
    name: str
    broker: str
    subscriber: SinkRef
    filters: Mapping[str, str]
    delivery: Mapping[str, Any]
    parallelism: int = 1


@dataclass(frozen=True)
class Route:
    """A Gateway API path match: ``Exact``, ``PathPrefix`` (element-wise: ``/api``
    matches ``/api/x``, not ``/apix``) or ``RegularExpression`` (the whole path)."""

    prefix: str
    service: str
    kind: str = "PathPrefix"
    # The Gateway listeners its HTTPRoute attaches to: "admin" (sectionName admin-*) or
    # "public" (any other).
    listener: str = "public"

    def matches(self, path: str) -> bool:
        if self.kind == "Exact":
            return path == self.prefix
        if self.kind == "RegularExpression":
            return re.fullmatch(self.prefix, path) is not None
        prefix = self.prefix.rstrip("/")
        return prefix == "" or path == prefix or path.startswith(prefix + "/")

    @property
    def precedence(self) -> tuple[int, int]:
        """Exact first, then the longest prefix, then regular expressions (in order)."""
        order = {"Exact": 0, "PathPrefix": 1}.get(self.kind, 2)
        return order, -len(self.prefix.rstrip("/")) if order < 2 else 0


@dataclass
class Topology:
    namespace: str = "protostar"
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    brokers: dict[str, BrokerDecl] = field(default_factory=dict)
    triggers: list[TriggerDecl] = field(default_factory=list)
    pingsources: list[PingSourceSpec] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    sinkbindings: list[SinkBindingDecl] = field(default_factory=list)
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)
    jobs: list[JobSpec] = field(default_factory=list)

    def binding(self, service: str) -> SinkBindingDecl | None:
        """The SinkBinding that gives ``service`` its K_SINK, if any (the first that
        selects it; the validator refuses two)."""
        spec = self.services[service]
        return next((b for b in self.sinkbindings if b.selects(spec)), None)

    def route(self, path: str, listener: str | None = None) -> Route | None:
        """The route of ``path`` on one listener ("public" or "admin"); with None (one
        port serves both) the public routes first, then the admin ones."""
        order = [listener] if listener else ["public", "admin"]
        for wanted in order:
            for route in self.routes:  # by precedence: Exact, longest prefix, regexes
                if route.listener == wanted and route.matches(path):
                    return route
        return None

    def delivery(
        self, spec: Mapping[str, Any], resolve: Any, fallback: Mapping[str, Any] | None = None
    ) -> DeliverySpec:
        """A DeliverySpec from a manifest ``delivery`` (Trigger's over Broker's)."""
        merged = {**(fallback or {}), **spec}
        sink = merged.get("deadLetterSink")
        return DeliverySpec(
            retry=int(merged.get("retry", 0)),
            backoff_policy=merged.get("backoffPolicy", "exponential"),
            backoff_delay=float(parse_iso_duration(merged["backoffDelay"]))
            if "backoffDelay" in merged
            else 0.2,
            dead_letter_url=resolve(sink_ref(sink)) if sink else None,
            timeout=float(parse_iso_duration(merged["timeout"])) if "timeout" in merged else 30.0,
        )


def sink_ref(sink: Mapping[str, Any]) -> SinkRef:
    ref = sink.get("ref")
    uri = sink.get("uri")
    if isinstance(ref, Mapping):
        if ref.get("kind") == "Broker":
            return SinkRef(broker=str(ref.get("name", "default")))
        path = uri if isinstance(uri, str) and uri.startswith("/") else ""
        return SinkRef(service=str(ref.get("name", "")), path=path)
    if isinstance(uri, str) and uri:
        return SinkRef(uri=uri)
    raise TopologyError("a sink needs a ref or a uri")


def _annotation(annotations: Mapping[str, Any], key: str, default: str) -> str:
    value = annotations.get(key, default)
    return str(value)


def unbound_senders(
    topo: Topology, senders: Mapping[str, set[str]]
) -> list[tuple[ServiceSpec, str]]:
    """The Services whose function sends events (``senders``: function -> types, from the
    events catalog) but that no SinkBinding selects: on a cluster they would get no
    K_SINK and send nothing. Each with the message that says so."""
    out = []
    for svc in topo.services.values():
        sends = senders.get(svc.function)
        if sends and topo.binding(svc.name) is None:
            what = "relays events" if "*" in sends else "sends " + ", ".join(sorted(sends))
            out.append(
                (
                    svc,
                    f"Service {svc.name} (function {svc.function}) {what} but no SinkBinding "
                    "selects it, so it gets no K_SINK: label it protostar.dev/events: sender "
                    "(SinkBinding event-senders) or bind it",
                )
            )
    return out


def _sinkbinding(m: Manifest) -> SinkBindingDecl:
    spec = m.doc.get("spec") or {}
    subject = spec.get("subject") or {}
    selector = subject.get("selector") or {}
    return SinkBindingDecl(
        name=m.name,
        sink=sink_ref(spec.get("sink") or {}),
        subject_name=str(subject["name"]) if subject.get("name") else None,
        match_labels={str(k): str(v) for k, v in (selector.get("matchLabels") or {}).items()},
        match_expressions=tuple(selector.get("matchExpressions") or ()),
        ce_overrides=spec.get("ceOverrides") or {},
        manifest=str(m.source),
    )


def _service(doc: Mapping[str, Any], manifest: str = "") -> ServiceSpec:
    meta = doc.get("metadata") or {}
    name = str(meta.get("name"))
    labels = meta.get("labels") or {}
    template = (doc.get("spec") or {}).get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    spec = template.get("spec") or {}
    containers = spec.get("containers") or [{}]
    env = {
        str(e["name"]): str(e["value"])
        for e in containers[0].get("env") or []
        if isinstance(e, Mapping) and "value" in e
    }
    function = labels.get("protostar.dev/function")
    if not function:
        raise TopologyError(f"Service {name}: label protostar.dev/function is missing")
    return ServiceSpec(
        name=name,
        function=str(function),
        target=env.get("FUNCTION_TARGET", str(function)),
        signature_type=env.get("FUNCTION_SIGNATURE_TYPE", "http"),
        env=env,
        surface=str(labels.get("protostar.dev/surface", "internal")),
        min_scale=int(_annotation(annotations, "autoscaling.knative.dev/min-scale", "0")),
        max_scale=int(_annotation(annotations, "autoscaling.knative.dev/max-scale", "0")),
        idle_seconds=max(
            go_duration(_annotation(annotations, "autoscaling.knative.dev/window", "60s")),
            go_duration(
                _annotation(
                    annotations, "autoscaling.knative.dev/scale-to-zero-pod-retention-period", "0s"
                )
            ),
        ),
        container_concurrency=int(spec.get("containerConcurrency", 0)),
        timeout_seconds=int(spec.get("timeoutSeconds", 300)),
        labels={str(k): str(v) for k, v in labels.items()},
        manifest=manifest,
        container=containers[0],
        volumes=tuple(spec.get("volumes") or ()),
    )


def _job(m: Manifest) -> JobSpec:
    template = ((m.doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = template.get("containers") or [{}]
    container = containers[0]
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    if not command:
        raise TopologyError(f"Job {m.name}: its container has no command")
    annotations = (m.doc.get("metadata") or {}).get("annotations") or {}
    return JobSpec(
        name=m.name,
        command=tuple(str(c) for c in command),
        container=container,
        volumes=tuple(template.get("volumes") or ()),
        hook=str(annotations.get("argocd.argoproj.io/hook", "")),
        manifest=str(m.source),
    )


def build_topology(manifests: Iterable[Manifest], namespace: str = "protostar") -> Topology:
    topo = Topology(namespace=namespace)
    routes: list[Route] = []
    for m in manifests:
        doc = m.doc
        kind, api = m.kind, m.api_version
        spec = doc.get("spec") or {}
        meta = doc.get("metadata") or {}
        if kind == "Service" and api == SERVING:
            topo.services[m.name] = _service(doc, str(m.source))
        elif kind == "Broker" and api.startswith("eventing.knative.dev/"):
            topo.brokers[m.name] = BrokerDecl(m.name, spec.get("delivery") or {})
        elif kind == "Trigger" and api.startswith("eventing.knative.dev/"):
            annotations = meta.get("annotations") or {}
            topo.triggers.append(
                TriggerDecl(
                    name=m.name,
                    broker=str(spec.get("broker", "default")),
                    subscriber=sink_ref(spec.get("subscriber") or {}),
                    filters={
                        str(k): str(v)
                        for k, v in ((spec.get("filter") or {}).get("attributes") or {}).items()
                    },
                    delivery=spec.get("delivery") or {},
                    parallelism=int(annotations.get(PARALLELISM, "1")),
                )
            )
        elif kind == "PingSource" and api.startswith("sources.knative.dev/"):
            topo.pingsources.append(
                PingSourceSpec.from_manifest(
                    {**doc, "metadata": {**meta, "namespace": meta.get("namespace", namespace)}}
                )
            )
        elif kind == "SinkBinding" and api.startswith("sources.knative.dev/"):
            topo.sinkbindings.append(_sinkbinding(m))
        elif kind == "ConfigMap" and api == "v1":
            topo.configmaps[m.name] = {str(k): str(v) for k, v in (doc.get("data") or {}).items()}
        elif kind == "Job" and api == "batch/v1":
            topo.jobs.append(_job(m))
        elif kind == "HTTPRoute":
            sections = [str(p.get("sectionName", "")) for p in spec.get("parentRefs") or []]
            listener = (
                "admin" if sections and all(x.startswith("admin") for x in sections) else "public"
            )
            for rule in spec.get("rules") or []:
                backends = rule.get("backendRefs") or []
                if not backends:
                    continue
                service = str(backends[0].get("name"))
                for match in rule.get("matches") or [{"path": {"value": "/"}}]:
                    path = match.get("path") or {}
                    routes.append(
                        Route(
                            str(path.get("value", "/")),
                            service,
                            str(path.get("type", "PathPrefix")),
                            listener,
                        )
                    )
    topo.routes = sorted(routes, key=lambda r: r.precedence)
    missing = [r.service for r in topo.routes if r.service not in topo.services]
    missing += [
        t.subscriber.service
        for t in topo.triggers
        if t.subscriber.service and t.subscriber.service not in topo.services
    ]
    missing += [p.sink_service for p in topo.pingsources if p.sink_service not in topo.services]
    if missing:
        raise TopologyError(
            f"manifests refer to Services that do not exist: {sorted(set(missing))}"
        )
    return topo
