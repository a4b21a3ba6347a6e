"""The real knative/ deployment: valid, complete, and shaped as the local runtime reads it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml

from localplatform.manifests import Manifest, load_catalog_types, load_manifests, validate
from tests.conftest import ROOT

CRDS = ROOT.parent / "shared" / "knative-crds"
KNATIVE = ROOT / "knative"
CATALOG = ROOT / "events" / "catalog.yaml"
ROOTS = ["base", "infra", "overlays/microk8s"]


def _by(manifests: list[Manifest], kind: str) -> dict[str, dict[str, Any]]:
    return {m.name: m.doc for m in manifests if m.kind == kind}


@pytest.mark.parametrize("root", ROOTS)
def test_each_kustomization_validates_with_zero_problems(root: str) -> None:
    manifests = load_manifests(KNATIVE / root)
    assert manifests, f"{root} lists no resources"
    problems = validate(manifests, crd_dir=CRDS, catalog=load_catalog_types(CATALOG))
    assert [str(p) for p in problems] == []


def test_argocd_application_validates_and_points_at_the_overlay() -> None:
    (app,) = load_manifests(KNATIVE / "argocd" / "application.yaml")
    assert validate([app], crd_dir=CRDS, catalog=None) == []
    assert (app.api_version, app.kind) == ("argoproj.io/v1alpha1", "Application")
    path = app.doc["spec"]["source"]["path"]
    assert path == "knative/overlays/microk8s"
    assert (ROOT / path / "kustomization.yaml").is_file()


def test_overlay_is_base_plus_infra() -> None:
    overlay = {(m.source, m.index) for m in load_manifests(KNATIVE / "overlays" / "microk8s")}
    parts = {
        (m.source, m.index) for root in ("base", "infra") for m in load_manifests(KNATIVE / root)
    }
    assert overlay == parts


def test_every_yaml_file_is_listed_by_a_kustomization() -> None:
    listed = {m.source for root in ROOTS for m in load_manifests(KNATIVE / root)}
    for directory in ("base", "infra"):
        for path in (KNATIVE / directory).rglob("*.yaml"):
            if path.name != "kustomization.yaml":
                assert path in listed, f"{path} is not listed in resources"


def test_function_services_follow_the_runtime_convention() -> None:
    services = _by(load_manifests(KNATIVE / "base"), "Service")
    known = {
        "health": ("health", "public", "health"),
        "auth": ("auth", "public", "auth"),
        "users": ("users", "admin", "users"),
        "outbox-relay": ("outbox_relay", "internal", "outbox_relay"),
        "deadletter": ("deadletter", "internal", "deadletter"),
        "quota-reset": ("quota_reset", "internal", "quota_reset"),
        "embedder": ("embedder", "internal", "embedder"),
    }
    assert set(known) <= set(services)
    max_scale: dict[str, int] = {}
    for name, doc in services.items():
        labels = doc["metadata"]["labels"]
        function = labels["protostar.dev/function"]
        surface = labels["protostar.dev/surface"]
        target = function
        if name in known:
            assert (function, surface, target) == known[name]
        assert surface in ("public", "admin", "internal")
        # Every Service runs a function that exists, defining its target.
        source = (ROOT / "functions" / function / "main.py").read_text()
        assert f"def {target}(" in source
        template = doc["spec"]["template"]
        (container,) = template["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        pool = env.pop("DATABASE_POOL_MAX", None)  # the connection budget (test_budget.py)
        assert pool is None or pool.isdigit()
        assert env == {"FUNCTION_TARGET": target, "FUNCTION_SIGNATURE_TYPE": "http"}
        # Secrets only by key, each from the Secret of its purpose (test_needs.py).
        for e in container["env"]:
            if "value" not in e:
                assert set(e["valueFrom"]) == {"secretKeyRef"}
                assert e["valueFrom"]["secretKeyRef"]["key"] == e["name"]
        assert container["image"] == f"protostar/function-{function}"
        assert container["ports"] == [{"containerPort": 8080}]
        assert container["envFrom"] == [{"configMapRef": {"name": "protostar-config"}}]
        assert {"requests", "limits"} <= set(container["resources"])
        annotations = template["metadata"]["annotations"]
        # Scale to zero, except the embedder: kept warm, the only process loading torch.
        min_scale = "1" if name == "embedder" else "0"
        assert annotations["autoscaling.knative.dev/min-scale"] == min_scale
        assert "autoscaling.knative.dev/scale-to-zero-pod-retention-period" in annotations
        assert (
            int(annotations["autoscaling.knative.dev/target"])
            == (template["spec"]["containerConcurrency"])
        )
        assert template["spec"]["timeoutSeconds"] <= 600
        probe = container["readinessProbe"]
        if name == "health":
            assert probe["httpGet"]["path"] == "/healthz"
        else:
            assert probe["tcpSocket"] == {}
        max_scale[surface] = int(annotations["autoscaling.knative.dev/max-scale"])
    assert max_scale["public"] > max_scale["internal"]


def test_broker_pingsource_and_route() -> None:
    manifests = load_manifests(KNATIVE / "base")
    broker = _by(manifests, "Broker")["default"]
    assert broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == (
        "RabbitMQBroker"
    )
    assert broker["spec"]["delivery"] == {
        "retry": 5,
        "backoffPolicy": "exponential",
        "backoffDelay": "PT0.5S",
        "deadLetterSink": {
            "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "deadletter"}
        },
    }
    config = _by(manifests, "RabbitmqBrokerConfig")[broker["spec"]["config"]["name"]]
    assert config["spec"]["queueType"] == "quorum"
    cluster = config["spec"]["rabbitmqClusterReference"]["name"]
    assert cluster in _by(load_manifests(KNATIVE / "infra"), "RabbitmqCluster")

    ping = _by(manifests, "PingSource")["outbox-relay"]["spec"]
    assert ping["schedule"] == "* * * * *"
    assert ping["timezone"] == "Asia/Seoul"
    assert ping["contentType"] == "application/json"
    assert ping["data"] == '{"job":"outbox-relay"}'
    assert ping["sink"]["ref"]["name"] == "outbox-relay"

    triggers = _by(manifests, "Trigger")
    embed = triggers["embed-document-uploaded"]["spec"]
    assert embed["filter"] == {"attributes": {"type": "dev.protostar.document.uploaded"}}
    assert embed["subscriber"]["ref"]["name"] == "embed"
    assert "filters" not in embed
    services_by_surface = {
        name: doc["metadata"]["labels"]["protostar.dev/surface"]
        for name, doc in _by(manifests, "Service").items()
    }

    routes = _by(manifests, "HTTPRoute")
    assert set(routes) == {"public", "admin"}

    def targets(route: dict) -> dict[str, str]:
        found = {}
        for rule in route["spec"]["rules"]:
            (backend,) = [b["name"] for b in rule["backendRefs"]]
            for m in rule["matches"]:
                found[m["path"]["value"]] = backend
        return found

    public, admin = targets(routes["public"]), targets(routes["admin"])
    # Each route attaches only to its own listeners and host.
    for name, prefix in (("public", "public-"), ("admin", "admin-")):
        sections = {p["sectionName"] for p in routes[name]["spec"]["parentRefs"]}
        assert sections == {f"{prefix}http", f"{prefix}https"}
    assert routes["admin"]["spec"]["hostnames"] == ["admin.protostar.example.com"]
    assert public["/healthz"] == admin["/healthz"] == "health"
    assert public["/api/auth"] == "auth"
    assert admin["/api/auth"] == "auth-admin"  # owners sign in on pods of their own
    assert admin["/dashboard"] == "web-admin"
    assert admin["/api/users"] == "users"
    # The owners' API and the dashboard are not on the public host at all.
    for path in ("/dashboard", "/api/users", "/api/invites", "/api/bots"):
        assert path not in public, path
    assert not any("documents" in path or "insights" in path or "test" in path for path in public)
    for path, backend in public.items():
        assert services_by_surface[backend] == "public" or path in (
            "/api/users/me/invite",  # a stargazer redeems an invite in the widget
            "/api/bots/[a-z0-9-]+/public",  # the widget's bot view (cached)
        ), (path, backend)
    for backend in admin.values():
        assert services_by_surface[backend] in ("public", "admin"), backend


def test_infra_has_postgres_rabbitmq_and_redis() -> None:
    manifests = load_manifests(KNATIVE / "infra")
    (postgres,) = _by(manifests, "StatefulSet").values()
    (container,) = postgres["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "pgvector/pgvector:pg18"
    assert postgres["spec"]["volumeClaimTemplates"]
    assert "rabbitmq" in _by(manifests, "RabbitmqCluster")
    assert "redis" in _by(manifests, "Deployment")
    assert "redis" in _by(manifests, "Service")


def test_no_secret_values_are_committed() -> None:
    for path in KNATIVE.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml"):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict):
                    assert doc.get("kind") != "Secret", f"{path} commits a Secret"
        assert path.suffix != ".env", f"{path}: .env files are never committed"


def test_cli_validates_knative_and_prints_ok() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localplatform.manifests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # base and infra are also in the overlay: each manifest is counted once; +1: argocd.
    unique = {(m.source, m.index) for r in ROOTS for m in load_manifests(KNATIVE / r)}
    assert result.stdout.strip() == f"OK: {len(unique) + 1} manifests valid"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("root", ROOTS)
def test_kustomize_builds_each_root(root: str) -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(KNATIVE / root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert all(d["metadata"].get("namespace") in ("protostar", None) for d in built)
    if root == "overlays/microk8s":
        images = {
            c["image"]
            for d in built
            if d["kind"] == "Service" and d["apiVersion"] == "serving.knative.dev/v1"
            for c in d["spec"]["template"]["spec"]["containers"]
        }
        assert all(i.startswith("localhost:32000/protostar/function-") for i in images)
        assert all(":" in i.rsplit("/", 1)[1] for i in images), images


def test_dockerfile_builds_any_function() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG FUNCTION" in text
    assert "functions-framework --asgi" in text
    assert (ROOT / ".dockerignore").is_file()
