"""What the local runtime runs, read from the Knative manifests (the single source of truth).

- ``serving.knative.dev/v1`` Service -> a functions-framework process
  (``metadata.labels["protostar.dev/function"]`` names ``functions/<dir>/main.py``;
  container env ``FUNCTION_TARGET`` / ``FUNCTION_SIGNATURE_TYPE``; autoscaling
  annotations, ``containerConcurrency`` and ``timeoutSeconds`` apply).
- Broker (+ its ``spec.delivery``), Triggers (``spec.filter.attributes``,
  ``spec.delivery``, the RabbitMQ parallelism annotation), PingSources.
- ``HTTPRoute`` PathPrefix rules -> the public ingress.
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

    def source(self, root: Path) -> Path:
        return root / "functions" / self.function / "main.py"


@dataclass(frozen=True)
class SinkRef:
    """Either a Service (by name, plus a path) or an absolute URI."""

    service: str | None = None
    path: str = ""
    uri: str | None = None


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

    def route(self, path: str) -> Route | None:
        for route in self.routes:  # longest prefix first
            if route.matches(path):
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
        path = uri if isinstance(uri, str) and uri.startswith("/") else ""
        return SinkRef(service=str(ref.get("name", "")), path=path)
    if isinstance(uri, str) and uri:
        return SinkRef(uri=uri)
    raise TopologyError("a sink needs a ref or a uri")


def _annotation(annotations: Mapping[str, Any], key: str, default: str) -> str:
    value = annotations.get(key, default)
    return str(value)


def _service(doc: Mapping[str, Any]) -> ServiceSpec:
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
            topo.services[m.name] = _service(doc)
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
        elif kind == "HTTPRoute":
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
