"""K_SINK comes only from a SinkBinding (Knative Serving injects none): the committed
binding selects every function the events catalog says sends events, nothing else, and a
sender left out is refused by `task manifests` with the manifest, function and setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from localplatform.manifests.__main__ import CATALOG, crd_directory
from localplatform.manifests.catalog import load_catalog_senders
from localplatform.manifests.load import Manifest, load_manifests
from localplatform.manifests.validate import validate
from localplatform.runtime.topology import build_topology, unbound_senders
from tests.conftest import ROOT

BASE = ROOT / "knative" / "base"
SENDERS = load_catalog_senders(CATALOG)


def _without_label(service: str) -> list[Manifest]:
    out = []
    for m in load_manifests(BASE):
        if m.kind == "Service" and m.name == service:
            doc: dict[str, Any] = yaml.safe_load(yaml.safe_dump(m.doc))
            del doc["metadata"]["labels"]["protostar.dev/events"]
            m = Manifest(doc=doc, source=m.source, index=m.index)
        out.append(m)
    return out


def test_every_sender_and_only_a_sender_is_bound_to_the_broker() -> None:
    topo = build_topology(load_manifests(BASE))
    assert unbound_senders(topo, SENDERS) == []
    bound = {name for name in topo.services if topo.binding(name) is not None}
    functions = {topo.services[name].function for name in bound}
    assert functions == set(SENDERS), "a Service has K_SINK that sends nothing, or the reverse"
    assert {"content", "embed", "chat", "auth", "users", "outbox_relay"} <= functions
    for name in bound:
        binding = topo.binding(name)
        assert binding is not None
        assert binding.sink.broker == "default"
    assert topo.binding("web") is None
    assert topo.binding("notify") is None


@pytest.mark.parametrize("service", ["auth", "outbox-relay"])
def test_a_sender_without_a_binding_is_refused_naming_manifest_function_and_setting(
    service: str,
) -> None:
    problems = validate(
        _without_label(service), crd_dir=crd_directory(), catalog=None, senders=SENDERS
    )
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.source == BASE / "services" / f"{service}.yaml"
    assert (problem.kind, problem.name) == ("Service", service)
    function = service.replace("-", "_")
    assert f"function {function}" in problem.message
    assert "K_SINK" in problem.message


def _binding(spec: str) -> list[Manifest]:
    docs = [m for m in load_manifests(BASE) if m.kind != "SinkBinding"]
    doc = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "SinkBinding",
        "metadata": {"name": "broken"},
        "spec": yaml.safe_load(spec),
    }
    return [*docs, Manifest(doc=doc, source=Path("broken.yaml"), index=0)]


SINK = "sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "{subject: {apiVersion: apps/v1, kind: Deployment, name: auth}, " + SINK + "}",
            "spec.subject must be apiVersion serving.knative.dev/v1 kind Service",
        ),
        (
            "{subject: {apiVersion: serving.knative.dev/v1, kind: Service, name: nope}, "
            + SINK
            + "}",
            "spec.subject names Service 'nope'",
        ),
        (
            "{subject: {apiVersion: serving.knative.dev/v1, kind: Service, selector: "
            "{matchLabels: {team: nobody}}}, " + SINK + "}",
            "selects no Service",
        ),
        (
            "{subject: {apiVersion: serving.knative.dev/v1, kind: Service, name: auth, "
            "selector: {matchLabels: {a: b}}}, " + SINK + "}",
            "exactly one of name and selector",
        ),
        (
            "{subject: {apiVersion: serving.knative.dev/v1, kind: Service, name: auth}, "
            "sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: other}}}",
            "names Broker 'other'",
        ),
    ],
)
def test_a_broken_binding_is_refused(spec: str, expected: str) -> None:
    problems = validate(_binding(spec), crd_dir=crd_directory(), catalog=None)
    messages = [p.message for p in problems if p.kind == "SinkBinding"]
    assert any(expected in m for m in messages), messages


def test_a_service_two_bindings_select_is_refused() -> None:
    second = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "SinkBinding",
        "metadata": {"name": "chat-twice"},
        "spec": {
            "subject": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "chat"},
            "sink": {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker",
                             "name": "default"}},
        },
    }  # fmt: skip
    manifests = [*load_manifests(BASE), Manifest(doc=second, source=Path("twice.yaml"), index=0)]
    problems = validate(manifests, crd_dir=crd_directory(), catalog=None, senders=SENDERS)
    assert [(p.kind, p.name) for p in problems] == [("Service", "chat")], problems
    assert "selected by 2 SinkBindings (event-senders, chat-twice)" in problems[0].message
