"""Each rule of the validator refuses a deliberately broken manifest with a precise message.

A valid set (``VALID``: a function Service, the RabbitMQ Broker and its config, a
Trigger, a PingSource, a route) is accepted with no problem. Each case patches ONE
document of it (deep merge; ``~`` deletes a key; lists merge item by item) and asserts
that the validator names the resource and says what is wrong.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from localplatform.manifests import Manifest, Problem, validate
from tests.conftest import ROOT

CRDS = ROOT.parent / "shared" / "knative-crds"
PARALLELISM = "rabbitmq.eventing.knative.dev/parallelism"
CATALOG = {"dev.protostar.document.uploaded", "dev.protostar.document.ready"}

VALID = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: notify
  labels:
    protostar.dev/function: notify
    protostar.dev/surface: internal
    networking.knative.dev/visibility: cluster-local
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "0"
        autoscaling.knative.dev/max-scale: "3"
        autoscaling.knative.dev/target: "10"
        autoscaling.knative.dev/scale-to-zero-pod-retention-period: "1m30s"
        autoscaling.knative.dev/window: "60s"
    spec:
      containerConcurrency: 10
      timeoutSeconds: 600
      containers:
        - name: function
          image: protostar/function-notify
          ports:
            - containerPort: 8080
          env:
            - name: FUNCTION_TARGET
              value: notify
            - name: FUNCTION_SIGNATURE_TYPE
              value: cloudevent
          readinessProbe:
            tcpSocket: {}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: web
  labels:
    protostar.dev/function: web
    protostar.dev/surface: public
spec:
  template:
    spec:
      containers:
        - image: protostar/function-web
          env:
            - name: FUNCTION_TARGET
              value: web
            - name: FUNCTION_SIGNATURE_TYPE
              value: http
---
apiVersion: eventing.knative.dev/v1alpha1
kind: RabbitmqBrokerConfig
metadata:
  name: broker-config
spec:
  queueType: quorum
  rabbitmqClusterReference:
    name: rabbitmq
---
apiVersion: rabbitmq.com/v1beta1
kind: RabbitmqCluster
metadata:
  name: rabbitmq
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  annotations:
    eventing.knative.dev/broker.class: RabbitMQBroker
spec:
  config:
    apiVersion: eventing.knative.dev/v1alpha1
    kind: RabbitmqBrokerConfig
    name: broker-config
  delivery:
    retry: 5
    backoffPolicy: exponential
    backoffDelay: PT0.5S
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: notify
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: notify-on-ready
  annotations:
    rabbitmq.eventing.knative.dev/parallelism: "10"
spec:
  broker: default
  filter:
    attributes:
      type: dev.protostar.document.ready
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: notify
  delivery:
    retry: 3
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: digest
spec:
  schedule: "0 9 * * *"
  timezone: Asia/Seoul
  contentType: application/json
  data: '{"job":"digest"}'
  sink:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: notify
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: public
spec:
  parentRefs:
    - name: protostar
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /
      backendRefs:
        - name: web
          port: 80
"""


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(VALID) if d]


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(base.get(key), value)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        merged = [_merge(b, p) for b, p in zip(base, patch, strict=False)]
        return merged + patch[len(base) :] + base[len(patch) :]
    return copy.deepcopy(patch)


def _run(docs: list[dict[str, Any]], catalog: set[str] | None = CATALOG) -> list[Problem]:
    source = Path("broken.yaml")
    manifests = [Manifest(doc=d, source=source, index=i) for i, d in enumerate(docs)]
    return validate(manifests, crd_dir=CRDS, catalog=catalog)


def _patched(kind: str, name: str, patch_yaml: str) -> list[dict[str, Any]]:
    docs = _documents()
    patch = yaml.safe_load(patch_yaml)
    hits = [i for i, d in enumerate(docs) if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"no single {kind}/{name} in VALID"
    docs[hits[0]] = _merge(docs[hits[0]], patch)
    return docs


def test_the_valid_set_has_no_problem() -> None:
    assert _run(_documents()) == []


def test_the_shared_crds_are_there() -> None:
    assert (CRDS / "serving-service.yaml").is_file(), f"CRD schemas missing from {CRDS}"


# (id, kind, name, patch, expected message fragment)
CASES: list[tuple[str, str, str, str, str]] = [
    # ---------------------------------------------------------------- Service: autoscaling
    (
        "min-scale-int-not-string",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/min-scale": 0}}}}',
        'spec.template.metadata.annotations["autoscaling.knative.dev/min-scale"]: must be a '
        'string, got integer 0 (quote it: "0")',
    ),
    (
        "max-scale-below-min-scale",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/min-scale": "3",'
        ' "autoscaling.knative.dev/max-scale": "2"}}}}',
        "spec.template.metadata.annotations: max-scale 2 is less than min-scale 3",
    ),
    (
        "min-scale-negative",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/min-scale": "-1"}}}}',
        "[\"autoscaling.knative.dev/min-scale\"]: '-1' must be a non-negative integer",
    ),
    (
        "max-scale-not-a-number",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/max-scale": "ten"}}}}',
        "[\"autoscaling.knative.dev/max-scale\"]: 'ten' must be a non-negative integer",
    ),
    (
        "target-zero",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/target": "0"}}}}',
        "[\"autoscaling.knative.dev/target\"]: '0' must be a number > 0",
    ),
    (
        "retention-2h",
        "Service",
        "notify",
        "spec: {template: {metadata: {annotations: "
        '{"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "2h"}}}}',
        "[\"autoscaling.knative.dev/scale-to-zero-pod-retention-period\"]: '2h' is outside 0s..1h",
    ),
    (
        "retention-not-a-duration",
        "Service",
        "notify",
        "spec: {template: {metadata: {annotations: "
        '{"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "10"}}}}',
        "'10' is not a duration",
    ),
    (
        "window-5s",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/window": "5s"}}}}',
        "[\"autoscaling.knative.dev/window\"]: '5s' is outside 6s..1h",
    ),
    (
        "window-2h",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/window": "2h"}}}}',
        "'2h' is outside 6s..1h",
    ),
    (
        "autoscaling-typo",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/max-scael": "3"}}}}',
        '["autoscaling.knative.dev/max-scael"]: unknown autoscaling annotation',
    ),
    (
        "autoscaling-legacy-spelling",
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/minScale": "1"}}}}',
        "write autoscaling.knative.dev/min-scale (kebab-case)",
    ),
    (
        "autoscaling-on-service-metadata",
        "Service",
        "notify",
        'metadata: {annotations: {"autoscaling.knative.dev/max-scale": "-2"}}',
        "metadata.annotations[\"autoscaling.knative.dev/max-scale\"]: '-2' must be a "
        "non-negative integer",
    ),
    # ---------------------------------------------------------------- Service: revision
    (
        "timeout-601",
        "Service",
        "notify",
        "spec: {template: {spec: {timeoutSeconds: 601}}}",
        "spec.template.spec.timeoutSeconds: 601 is outside 0..600",
    ),
    (
        "container-concurrency-1001",
        "Service",
        "notify",
        "spec: {template: {spec: {containerConcurrency: 1001}}}",
        "spec.template.spec.containerConcurrency: 1001 is outside 0..1000",
    ),
    (
        "container-missing-image",
        "Service",
        "notify",
        "spec: {template: {spec: {containers: [{image: ~}]}}}",
        "spec.template.spec.containers[0].image is missing",
    ),
    (
        "two-ports",
        "Service",
        "notify",
        "spec: {template: {spec: {containers: [{ports: [{containerPort: 8080},"
        " {containerPort: 9090}]}]}}}",
        "spec.template.spec.containers[0].ports: Knative allows one port per Service, got 2",
    ),
    # ---------------------------------------------------------------- Service: CRD schema
    (
        "schema-wrong-type",
        "Service",
        "notify",
        'spec: {template: {spec: {containerConcurrency: "ten"}}}',
        "spec.template.spec.containerConcurrency: must be of type integer, got string 'ten' "
        "(schema of serving.knative.dev/v1 Service)",
    ),
    (
        "schema-unknown-container-field",
        "Service",
        "notify",
        "spec: {template: {spec: {containers: [{imagePullPolicyy: Always}]}}}",
        "spec.template.spec.containers[0]: unknown field(s) 'imagePullPolicyy'",
    ),
    (
        "schema-int-or-string",
        "Service",
        "notify",
        "spec: {template: {spec: {containers: [{readinessProbe: {tcpSocket: {port: [8080]}}}]}}}",
        "spec.template.spec.containers[0].readinessProbe.tcpSocket.port: must be an integer or "
        "a string, got array [8080]",
    ),
    (
        "schema-duplicate-env",
        "Service",
        "notify",
        "spec: {template: {spec: {containers: [{env: [{}, {},"
        " {name: FUNCTION_TARGET, value: x}]}]}}}",
        "spec.template.spec.containers[0].env[2]: items 0 and 2 have the same "
        "name='FUNCTION_TARGET'",
    ),
    (
        "schema-missing-containers",
        "Service",
        "notify",
        "spec: {template: {spec: {containers: ~}}}",
        "spec.template.spec: required field 'containers' is missing",
    ),
    (
        "top-level-typo",
        "Service",
        "web",
        "sepc: {}",
        "unknown top-level field 'sepc'",
    ),
    (
        "service-name-not-a-dns-label",
        "Service",
        "web",
        "metadata: {name: Web_1}",
        "metadata.name 'Web_1' is not a DNS label",
    ),
    # ---------------------------------------------------------------- Service: conventions
    (
        "missing-function-label",
        "Service",
        "web",
        'metadata: {labels: {"protostar.dev/function": ~}}',
        'metadata.labels["protostar.dev/function"] is missing',
    ),
    (
        "bad-surface",
        "Service",
        "web",
        'metadata: {labels: {"protostar.dev/surface": external}}',
        "metadata.labels[\"protostar.dev/surface\"] is 'external': must be one of public, admin,"
        " internal",
    ),
    (
        "internal-not-cluster-local",
        "Service",
        "notify",
        'metadata: {labels: {"networking.knative.dev/visibility": ~}}',
        "an internal Service must not be reachable from outside the cluster",
    ),
    (
        "missing-function-target",
        "Service",
        "web",
        "spec: {template: {spec: {containers: [{env: [{value: ~, name: OTHER}]}]}}}",
        "container env FUNCTION_TARGET is missing",
    ),
    (
        "bad-signature-type",
        "Service",
        "web",
        "spec: {template: {spec: {containers: [{env: [{}, {value: event}]}]}}}",
        "container env FUNCTION_SIGNATURE_TYPE is 'event': must be one of http, cloudevent",
    ),
    (
        "image-of-another-function",
        "Service",
        "web",
        "spec: {template: {spec: {containers: [{image: protostar/function-chat}]}}}",
        "container image 'protostar/function-chat' does not match the function: expected "
        "protostar/function-web",
    ),
    # ---------------------------------------------------------------- Trigger
    (
        "filters-on-rabbitmq-broker",
        "Trigger",
        "notify-on-ready",
        "spec: {filters: [{exact: {type: dev.protostar.document.ready}}]}",
        "spec.filters is ignored by Broker 'default' (class RabbitMQBroker)",
    ),
    (
        "fitler-typo",
        "Trigger",
        "notify-on-ready",
        "spec: {fitler: {attributes: {type: dev.protostar.document.ready}}}",
        "spec: unknown field(s) 'fitler' (allowed: broker, brokerRef, delivery, filter, filters,"
        " subscriber)",
    ),
    (
        "filter-unknown-key",
        "Trigger",
        "notify-on-ready",
        "spec: {filter: {attribute: {source: x}}}",
        "spec.filter: unknown field(s) 'attribute' (allowed: attributes)",
    ),
    (
        "type-not-in-catalog",
        "Trigger",
        "notify-on-ready",
        "spec: {filter: {attributes: {type: dev.protostar.document.deleted}}}",
        "spec.filter.attributes.type 'dev.protostar.document.deleted' is not in the events "
        "catalog (known: dev.protostar.document.ready, dev.protostar.document.uploaded)",
    ),
    (
        "attribute-value-not-string",
        "Trigger",
        "notify-on-ready",
        "spec: {filter: {attributes: {priority: 1}}}",
        "spec.filter.attributes.priority: must be a string, got integer",
    ),
    (
        "subscriber-service-missing",
        "Trigger",
        "notify-on-ready",
        "spec: {subscriber: {ref: {name: notifier}}}",
        "spec.subscriber.ref names Service 'notifier', which is not a Knative Service in this "
        "manifest set (known: notify, web)",
    ),
    (
        "subscriber-core-service",
        "Trigger",
        "notify-on-ready",
        "spec: {subscriber: {ref: {apiVersion: v1}}}",
        "spec.subscriber.ref: Service 'notify' must be apiVersion serving.knative.dev/v1",
    ),
    (
        "subscriber-missing",
        "Trigger",
        "notify-on-ready",
        "spec: {subscriber: ~}",
        "spec.subscriber is missing (needs ref or uri)",
    ),
    (
        "broker-missing",
        "Trigger",
        "notify-on-ready",
        "spec: {broker: events}",
        "spec.broker 'events' is not a Broker in this manifest set",
    ),
    (
        "parallelism-0",
        "Trigger",
        "notify-on-ready",
        'metadata: {annotations: {"rabbitmq.eventing.knative.dev/parallelism": "0"}}',
        "metadata.annotations[\"rabbitmq.eventing.knative.dev/parallelism\"]: '0' must be an "
        "integer in 1..1000",
    ),
    (
        "parallelism-1001",
        "Trigger",
        "notify-on-ready",
        'metadata: {annotations: {"rabbitmq.eventing.knative.dev/parallelism": "1001"}}',
        "'1001' must be an integer in 1..1000",
    ),
    (
        "parallelism-int",
        "Trigger",
        "notify-on-ready",
        'metadata: {annotations: {"rabbitmq.eventing.knative.dev/parallelism": 10}}',
        'metadata.annotations["rabbitmq.eventing.knative.dev/parallelism"]: must be a string, '
        "got integer 10",
    ),
    (
        "delivery-backoff-policy",
        "Trigger",
        "notify-on-ready",
        "spec: {delivery: {backoffPolicy: quadratic}}",
        "spec.delivery.backoffPolicy: 'quadratic' is not one of exponential, linear",
    ),
    (
        "delivery-backoff-delay",
        "Trigger",
        "notify-on-ready",
        "spec: {delivery: {backoffDelay: 0.5s}}",
        "spec.delivery.backoffDelay: '0.5s' is not an ISO 8601 duration",
    ),
    (
        "delivery-retry-string",
        "Trigger",
        "notify-on-ready",
        'spec: {delivery: {retry: "3"}}',
        "spec.delivery.retry: must be of type integer, got string '3'",
    ),
    (
        "delivery-retry-negative",
        "Trigger",
        "notify-on-ready",
        "spec: {delivery: {retry: -1}}",
        "spec.delivery.retry: -1 must be >= 0",
    ),
    # ---------------------------------------------------------------- PingSource
    (
        "cron-every",
        "PingSource",
        "digest",
        'spec: {schedule: "@every 1m"}',
        'spec.schedule: schedule "@every 1m": "@every <duration>" is not supported',
    ),
    (
        "cron-unknown-descriptor",
        "PingSource",
        "digest",
        'spec: {schedule: "@reboot"}',
        'spec.schedule: schedule "@reboot": unknown macro "@reboot"',
    ),
    (
        "cron-7-fields",
        "PingSource",
        "digest",
        'spec: {schedule: "0 0 0 * * * 2030"}',
        'spec.schedule: schedule "0 0 0 * * * 2030" has 7 fields; expected 5',
    ),
    (
        "cron-4-fields",
        "PingSource",
        "digest",
        'spec: {schedule: "0 * * *"}',
        "has 4 fields",
    ),
    (
        "cron-6-fields-seconds-last",
        "PingSource",
        "digest",
        'spec: {schedule: "0 0 * * * 61"}',
        'spec.schedule: schedule "0 0 * * * 61": day-of-week (field 6 of 6) value 61 is out '
        "of range 0-6 or SUN-SAT; a 6-field schedule puts seconds FIRST",
    ),
    (
        "cron-seconds-61",
        "PingSource",
        "digest",
        'spec: {schedule: "61 * * * * *"}',
        "second (field 1 of 6) value 61 is out of range 0-59",
    ),
    (
        "cron-hour-24",
        "PingSource",
        "digest",
        'spec: {schedule: "0 24 * * *"}',
        "hour (field 2 of 5) value 24 is out of range 0-23",
    ),
    (
        "cron-day-of-month-0",
        "PingSource",
        "digest",
        'spec: {schedule: "0 0 0 * *"}',
        "day-of-month (field 3 of 5) value 0 is out of range 1-31",
    ),
    (
        "cron-month-name",
        "PingSource",
        "digest",
        'spec: {schedule: "0 0 1 JANUARY *"}',
        'month (field 4 of 5) value "JANUARY" is not a number 1-12 or a name JAN-DEC',
    ),
    (
        "cron-reversed-range",
        "PingSource",
        "digest",
        'spec: {schedule: "0 18-9 * * *"}',
        'hour (field 2 of 5) range "18-9" runs backwards (18 > 9)',
    ),
    (
        "cron-zero-step",
        "PingSource",
        "digest",
        'spec: {schedule: "*/0 * * * *"}',
        'minute (field 1 of 5) step 0 in "*/0" must be at least 1',
    ),
    (
        "cron-tz-prefix",
        "PingSource",
        "digest",
        'spec: {schedule: "CRON_TZ=Asia/Seoul 0 9 * * *"}',
        "is not allowed in the schedule; set spec.timezone instead",
    ),
    (
        "bad-timezone",
        "PingSource",
        "digest",
        "spec: {timezone: Asia/Seul}",
        'spec.timezone: unknown timezone "Asia/Seul": not an IANA time zone name (did you '
        "mean 'Asia/Seoul'?)",
    ),
    (
        "schedule-not-a-string",
        "PingSource",
        "digest",
        "spec: {schedule: 5}",
        "spec.schedule: must be of type string, got integer 5 (schema of sources.knative.dev/v1"
        " PingSource)",
    ),
    (
        "data-not-json",
        "PingSource",
        "digest",
        "spec: {data: '{job: digest}'}",
        "spec.data is not valid JSON (contentType is application/json)",
    ),
    (
        "data-and-base64",
        "PingSource",
        "digest",
        "spec: {dataBase64: e30=}",
        "spec.data and spec.dataBase64 are mutually exclusive",
    ),
    (
        "sink-service-missing",
        "PingSource",
        "digest",
        "spec: {sink: {ref: {name: digest}}}",
        "spec.sink.ref names Service 'digest', which is not a Knative Service",
    ),
    (
        "pingsource-unknown-spec-field",
        "PingSource",
        "digest",
        'spec: {scheduel: "0 9 * * *"}',
        "spec: unknown field(s) 'scheduel'",
    ),
    # ---------------------------------------------------------------- Broker and config
    (
        "dead-letter-sink-missing",
        "Broker",
        "default",
        "spec: {delivery: {deadLetterSink: {ref: {name: deadletter}}}}",
        "spec.delivery.deadLetterSink.ref names Service 'deadletter', which is not a Knative "
        "Service in this manifest set",
    ),
    (
        "broker-config-missing",
        "Broker",
        "default",
        "spec: {config: {name: other-config}}",
        "spec.config names RabbitmqBrokerConfig 'other-config', which is not in this manifest set",
    ),
    (
        "broker-config-wrong-kind",
        "Broker",
        "default",
        "spec: {config: {apiVersion: v1, kind: ConfigMap}}",
        "spec.config must reference an eventing.knative.dev/v1alpha1 RabbitmqBrokerConfig",
    ),
    (
        "queue-type-enum",
        "RabbitmqBrokerConfig",
        "broker-config",
        "spec: {queueType: lazy}",
        "spec.queueType: 'lazy' is not one of 'quorum', 'classic'",
    ),
    (
        "cluster-reference-both",
        "RabbitmqBrokerConfig",
        "broker-config",
        "spec: {rabbitmqClusterReference: {connectionSecret: {name: rabbit-uri}}}",
        "set either name or connectionSecret, not both",
    ),
    (
        "cluster-reference-unknown",
        "RabbitmqBrokerConfig",
        "broker-config",
        "spec: {rabbitmqClusterReference: {name: rabbit}}",
        "spec.rabbitmqClusterReference.name 'rabbit' is not a RabbitmqCluster in this manifest "
        "set (known: rabbitmq)",
    ),
    # ---------------------------------------------------------------- HTTPRoute
    (
        "route-backend-missing",
        "HTTPRoute",
        "public",
        "spec: {rules: [{backendRefs: [{name: chat}]}]}",
        "spec.rules[0].backendRefs[0].name 'chat' is not a Knative Service in this manifest set",
    ),
    (
        "route-to-internal",
        "HTTPRoute",
        "public",
        "spec: {rules: [{backendRefs: [{name: notify}]}]}",
        "spec.rules[0].backendRefs[0] routes to 'notify', an internal Service",
    ),
    (
        "route-without-gateway",
        "HTTPRoute",
        "public",
        "spec: {parentRefs: ~}",
        "spec.parentRefs is missing",
    ),
    # ---------------------------------------------------------------- root
    (
        "label-not-string",
        "HTTPRoute",
        "public",
        "metadata: {labels: {tier: 1}}",
        'metadata.labels["tier"]: must be a string, got integer 1',
    ),
    (
        "unserved-knative-version",
        "Service",
        "web",
        "apiVersion: serving.knative.dev/v1beta1",
        "no CRD serves apiVersion serving.knative.dev/v1beta1 kind Service "
        "(served: serving.knative.dev/v1)",
    ),
    (
        "bad-resource-name",
        "Broker",
        "default",
        "metadata: {name: Default_Broker}",
        "metadata.name 'Default_Broker' is not a valid name",
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "patch", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_broken_manifest_is_refused(kind: str, name: str, patch: str, expected: str) -> None:
    problems = _run(_patched(kind, name, patch))
    messages = [p.message for p in problems]
    assert any(expected in m for m in messages), f"expected {expected!r} in {messages}"
    culprit = next(p for p in problems if expected in p.message)
    assert culprit.kind == kind
    assert culprit.source == Path("broken.yaml")


def test_one_mistake_is_reported_once() -> None:
    # An integer annotation fails both the CRD schema and the string rule: one line only.
    docs = _patched(
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/min-scale": 0}}}}',
    )
    assert len(_run(docs)) == 1


def test_problem_line_names_file_resource_and_message() -> None:
    docs = _patched("Service", "notify", "spec: {template: {spec: {timeoutSeconds: 601}}}")
    (problem,) = _run(docs)
    assert str(problem) == (
        "broken.yaml: Service/notify: spec.template.spec.timeoutSeconds: 601 is outside 0..600"
        " (Knative's max-revision-timeout-seconds)"
    )


def test_max_scale_zero_means_unlimited() -> None:
    docs = _patched(
        "Service",
        "notify",
        'spec: {template: {metadata: {annotations: {"autoscaling.knative.dev/min-scale": "2",'
        ' "autoscaling.knative.dev/max-scale": "0"}}}}',
    )
    assert _run(docs) == []


@pytest.mark.parametrize(
    "schedule",
    [
        "* * * * *",
        "*/15 * * * *",
        "0 9 * * MON-FRI",
        "30 8 1,15 * ?",
        "0 0 1 jan *",
        "5/10 * * * *",
        "0 */5 * * * *",  # six fields, seconds first
        "30 0 9 * * 1-5",
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
    ],
)
def test_valid_schedules_are_accepted(schedule: str) -> None:
    docs = _patched("PingSource", "digest", f'spec: {{schedule: "{schedule}"}}')
    assert _run(docs) == []


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Seoul", "America/New_York", "Etc/GMT+9"])
def test_iana_time_zones_are_accepted(timezone: str) -> None:
    docs = _patched("PingSource", "digest", f"spec: {{timezone: {timezone}}}")
    assert _run(docs) == []


def test_parallelism_bounds_are_inclusive() -> None:
    for value in ("1", "1000"):
        docs = _patched(
            "Trigger",
            "notify-on-ready",
            f'metadata: {{annotations: {{"{PARALLELISM}": "{value}"}}}}',
        )
        assert _run(docs) == [], value


def test_filters_are_fine_on_a_broker_of_another_class() -> None:
    docs = _patched(
        "Trigger",
        "notify-on-ready",
        "spec: {filters: [{exact: {type: dev.protostar.document.ready}}]}",
    )
    broker = next(d for d in docs if d["kind"] == "Broker")
    broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] = "MTChannelBasedBroker"
    assert _run(docs) == []


def test_without_a_catalog_event_types_are_not_checked() -> None:
    docs = _patched(
        "Trigger",
        "notify-on-ready",
        "spec: {filter: {attributes: {type: dev.protostar.nothing.happened}}}",
    )
    assert _run(docs, catalog=None) == []


def test_known_services_outside_the_set_resolve_references() -> None:
    docs = _patched("Trigger", "notify-on-ready", "spec: {subscriber: {ref: {name: audit}}}")
    manifests = [Manifest(doc=d, source=Path("x.yaml"), index=i) for i, d in enumerate(docs)]
    assert validate(manifests, crd_dir=CRDS, catalog=CATALOG, known_services={"audit"}) == []


def test_duplicate_resources_are_refused() -> None:
    docs = _documents()
    docs.append(copy.deepcopy(docs[0]))
    messages = [p.message for p in _run(docs)]
    assert any(
        "duplicate Service 'notify': also defined in broken.yaml (document 0)" in m
        for m in messages
    )


def test_missing_root_fields_are_refused() -> None:
    messages = [p.message for p in _run([{"kind": "ConfigMap", "metadata": {}}])]
    assert "apiVersion is missing" in messages
    assert "metadata.name is missing" in messages


def test_every_case_yields_exactly_one_problem() -> None:
    # One mistake, one line: the schema and the admission rules never both report it.
    # (A renamed resource also breaks the references to it; those are other resources.)
    noisy = {}
    for case_id, kind, name, patch, _ in CASES:
        problems = [p for p in _run(_patched(kind, name, patch)) if p.kind == kind]
        if len(problems) != 1:
            noisy[case_id] = [str(p) for p in problems]
    assert noisy == {}
