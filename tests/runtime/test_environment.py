"""A container's environment and files from its manifest, as the kubelet makes them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from localplatform.runtime.environment import ContainerConfigError, Objects, plan
from localplatform.runtime.pods import cluster_dns

OBJECTS = Objects(
    configmaps={"config": {"A": "from-config", "B": "config-b", "bad name": "skipped"}},
    secrets={
        "db": {"DATABASE_URL": b"postgresql://app:pw@db/x"},
        "jwt": {"private.pem": b"PRIVATE", "public.pem": b"PUBLIC"},
        "store": {"signing": b"KEY"},
    },
)


def _ref(kind: str, name: str, key: str, optional: bool | None = None) -> dict:
    ref: dict = {"name": name, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"valueFrom": {kind: ref}}


def test_env_wins_over_env_from_and_later_sources_over_earlier() -> None:
    container = {
        "envFrom": [
            {"configMapRef": {"name": "config"}},
            {"secretRef": {"name": "db"}, "prefix": "X_"},
        ],
        "env": [
            {"name": "B", "value": "literal"},
            {"name": "URL", **_ref("secretKeyRef", "db", "DATABASE_URL")},
            {"name": "C", "value": "$(B)/$(URL)/$(MISSING)/$$(B)"},
        ],
    }
    env = plan(container, [], OBJECTS).env
    assert env == {
        "A": "from-config",
        "B": "literal",
        "X_DATABASE_URL": "postgresql://app:pw@db/x",
        "URL": "postgresql://app:pw@db/x",
        "C": "literal/postgresql://app:pw@db/x/$(MISSING)/$(B)",
    }  # "bad name" is not a valid variable name: skipped, as the kubelet does


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (_ref("secretKeyRef", "nope", "K"), "Secret 'nope' does not exist"),
        (_ref("secretKeyRef", "db", "REDIS_URL"), "Secret 'db' has no key 'REDIS_URL'"),
        (_ref("configMapKeyRef", "config", "Z"), "ConfigMap 'config' has no key 'Z'"),
        ({"valueFrom": {"fieldRef": {"fieldPath": "x"}}}, "only configMapKeyRef and"),
    ],
)
def test_a_missing_reference_is_refused_as_the_kubelet_refuses_the_container(
    item: dict, message: str
) -> None:
    with pytest.raises(ContainerConfigError, match=message):
        plan({"env": [{"name": "V", **item}]}, [], OBJECTS)
    with pytest.raises(ContainerConfigError, match="Secret 'gone' does not exist"):
        plan({"envFrom": [{"secretRef": {"name": "gone"}}]}, [], OBJECTS)


def test_optional_references_to_what_is_absent_set_nothing() -> None:
    container = {
        "env": [
            {"name": "K", **_ref("secretKeyRef", "db", "GEMINI_API_KEY", optional=True)},
            {"name": "L", **_ref("secretKeyRef", "nope", "K", optional=True)},
        ],
        "envFrom": [{"configMapRef": {"name": "nope", "optional": True}}],
    }
    assert plan(container, [], OBJECTS).env == {}


def test_projected_secret_files_are_written_alone_and_env_paths_follow_them(
    tmp_path: Path,
) -> None:
    container = {
        "env": [
            {"name": "SECRETS_DIR", "value": "/var/run/secrets/protostar"},
            {"name": "KEY_FILE", "value": "/var/run/secrets/protostar/public.pem"},
            {"name": "AUDIT_DIR", "value": "/var/lib/audit"},
            {"name": "ELSEWHERE", "value": "/var/run/secrets/protostarx"},
        ],
        "volumeMounts": [
            {"name": "secrets", "mountPath": "/var/run/secrets/protostar"},
            {"name": "log", "mountPath": "/var/lib/audit"},
        ],
    }
    volumes = [
        {
            "name": "secrets",
            "projected": {
                "sources": [
                    {"secret": {"name": "jwt", "items": [{"key": "public.pem"}]}},
                    {"secret": {"name": "store"}},
                ]
            },
        },
        {"name": "log", "persistentVolumeClaim": {"claimName": "audit-log"}},
    ]
    planned = plan(container, volumes, OBJECTS)
    assert planned.files_at("/var/run/secrets/protostar") == {"public.pem", "signing"}
    env = planned.materialise(tmp_path / "run", claims=lambda c: tmp_path / "claims" / c)
    secrets = tmp_path / "run" / "secrets"
    assert env["SECRETS_DIR"] == str(secrets)
    assert env["KEY_FILE"] == str(secrets / "public.pem")
    assert env["AUDIT_DIR"] == str(tmp_path / "claims" / "audit-log")
    assert env["ELSEWHERE"] == "/var/run/secrets/protostarx"  # not inside the mount
    assert sorted(p.name for p in secrets.iterdir()) == ["public.pem", "signing"]
    assert (secrets / "public.pem").read_bytes() == b"PUBLIC"  # never the private key
    assert stat.S_IMODE((secrets / "signing").stat().st_mode) == 0o400
    assert (tmp_path / "claims" / "audit-log").is_dir()


def test_a_mount_of_an_unknown_volume_or_a_missing_secret_is_refused() -> None:
    with pytest.raises(ContainerConfigError, match="no volume named 'x'"):
        plan({"volumeMounts": [{"name": "x", "mountPath": "/x"}]}, [], OBJECTS)
    with pytest.raises(ContainerConfigError, match="Secret 'jwt' has no key 'nope'"):
        plan(
            {"volumeMounts": [{"name": "s", "mountPath": "/s"}]},
            [{"name": "s", "secret": {"secretName": "jwt", "items": [{"key": "nope"}]}}],
            OBJECTS,
        )


def test_cluster_local_service_urls_resolve_to_local_addresses() -> None:
    dns = cluster_dns("protostar", {"embedder": "http://127.0.0.1:4000"})
    for value in (
        "http://embedder.protostar.svc.cluster.local",
        "http://embedder.protostar.svc",
        "http://embedder.protostar",
        "http://embedder",
        "http://embedder.protostar.svc.cluster.local:80",
    ):
        assert dns(value + "/embed?x=1") == "http://127.0.0.1:4000/embed?x=1"
    for untouched in (
        "http://embedder.other.svc.cluster.local",
        "http://embedder.protostar.svc.cluster.local:8080",
        "http://embedderx.protostar.svc.cluster.local",
        "https://api.example.com",
        "postgresql://embedder/x",
    ):
        assert dns(untouched) == untouched
