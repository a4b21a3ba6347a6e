"""Every function gets from its manifest what it needs in production, and no Secret goes
where it is not needed (one Secret per purpose)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from localplatform.manifests.load import load_manifests
from localplatform.manifests.secrets import APP_SECRETS, BY_NAME, INFRA_SECRETS, cluster_secrets
from localplatform.runtime.needs import declared_objects, load_needs, unmet, unmet_needs
from localplatform.runtime.topology import build_topology
from tests.conftest import ROOT

BASE = ROOT / "knative" / "base"
TOPOLOGY = build_topology(load_manifests(BASE))
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "main.py").exists())
# Who may hold each Secret: the least privilege the design asks for.
HOLDERS = {
    "protostar-db-owner": {"Job/migrate"},
    "protostar-jwt-signing": {"Service/auth", "Service/auth-admin", "Service/users"},
    "protostar-notify": {"Service/notify"},
    "protostar-llm": {"Service/chat", "Service/embed", "Service/talent"},
}


def _referenced_secrets(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(secret, key) of every reference in a workload's pod template ('*' = all keys)."""
    spec = doc["spec"]["template"]["spec"]
    found: set[tuple[str, str]] = set()
    for container in spec.get("containers") or []:
        for e in container.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                found.add((ref["name"], ref["key"]))
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                found.add((source["secretRef"]["name"], "*"))
    for volume in spec.get("volumes") or []:
        sources = (
            [{"secret": {**volume["secret"], "name": volume["secret"]["secretName"]}}]
            if ("secret" in volume)
            else (volume.get("projected") or {}).get("sources") or []
        )
        for source in sources:
            if "secret" in source:
                keys = [i["key"] for i in source["secret"].get("items") or []] or ["*"]
                found |= {(source["secret"]["name"], k) for k in keys}
    return found


def _workloads() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{m.kind}/{m.name}", m.doc)
        for m in load_manifests(BASE)
        if (m.kind, m.api_version) in (("Service", "serving.knative.dev/v1"), ("Job", "batch/v1"))
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_gets_what_it_needs_from_its_manifest(function: str) -> None:
    needs = load_needs(ROOT / "functions", function)
    services = [s for s in TOPOLOGY.services.values() if s.function == function]
    assert services, f"no Service runs functions/{function}"
    for svc in services:
        assert unmet(svc, needs, declared_objects(TOPOLOGY)) == []


def test_a_missing_env_line_or_mount_is_named_with_the_function_and_the_setting() -> None:
    chat = TOPOLOGY.services["chat"]
    needs = load_needs(ROOT / "functions", "chat")
    container = {
        **chat.container,
        "env": [e for e in chat.container["env"] if e["name"] != "DATABASE_URL"],
    }
    broken = type(chat)(**{**chat.__dict__, "container": container})
    assert unmet(broken, needs, declared_objects(TOPOLOGY)) == [
        "Service chat (functions/chat) needs DATABASE_URL, which its manifest does not give "
        "it (env, envFrom or valueFrom)"
    ]
    unmounted = type(chat)(**{**chat.__dict__, "volumes": ()})
    assert unmet(unmounted, needs, declared_objects(TOPOLOGY)) == [
        "Service chat (functions/chat): volumeMounts[0]: no volume named 'secrets'"
    ]
    no_mount = type(chat)(**{**chat.__dict__, "container": {**chat.container, "volumeMounts": []}})
    assert unmet(no_mount, needs, declared_objects(TOPOLOGY)) == [
        "Service chat (functions/chat) needs the secret file jwt-public-key.pem in SECRETS_DIR "
        "(/var/run/secrets/protostar), which no volume of its manifest mounts there"
    ]


def test_every_function_declares_its_needs_and_the_committed_manifests_meet_them() -> None:
    assert unmet_needs(TOPOLOGY, ROOT / "functions") == []
    for function in FUNCTIONS:
        raw = yaml.safe_load((ROOT / "functions" / function / "needs.yaml").read_text())
        assert set(raw) <= {"settings", "secrets", "groups"}


def test_secrets_are_referenced_by_key_and_only_where_their_purpose_allows() -> None:
    holders: dict[str, set[str]] = {}
    for who, doc in _workloads():
        for secret, key in _referenced_secrets(doc):
            assert key != "*", f"{who} takes all of Secret {secret}: refer to keys"
            assert secret in BY_NAME, f"{who} refers to an unknown Secret {secret}"
            assert key in BY_NAME[secret].keys, f"{who}: Secret {secret} has no key {key}"
            holders.setdefault(secret, set()).add(who)
    for secret, allowed in HOLDERS.items():
        assert holders.get(secret, set()) <= allowed, (secret, holders.get(secret))
    assert holders["protostar-db-owner"] == {"Job/migrate"}
    # Every app Secret is used, and no workload of the app touches an infra Secret.
    assert set(holders) == {s.name for s in APP_SECRETS}
    assert not set(holders) & {s.name for s in INFRA_SECRETS}


def test_the_settings_no_manifest_gives_are_not_needed_anywhere() -> None:
    """The ConfigMap carries every non-secret setting a function needs."""
    config = TOPOLOGY.configmaps["protostar-config"]
    for key in ("PUBLIC_URL", "ADMIN_URL", "EMBEDDER_URL", "SECRETS_DIR", "AUDIT_DIR"):
        assert key in config
    # The dashboard's host is the admin route's host: reset links and redirects go there.
    admin_route = next(
        m.doc for m in load_manifests(BASE) if m.kind == "HTTPRoute" and m.name == "admin"
    )
    assert config["ADMIN_URL"] == "https://" + admin_route["spec"]["hostnames"][0]
    assert config["EMBEDDER_URL"] == "http://embedder.protostar.svc.cluster.local"
    assert config["PROTOSTAR_ENV"] == "production"


def test_cluster_secrets_give_every_key_the_manifests_require() -> None:
    made = cluster_secrets()
    assert set(made) == {s.name for s in (*APP_SECRETS, *INFRA_SECRETS)}
    for s in (*APP_SECRETS, *INFRA_SECRETS):
        assert set(s.keys) - set(s.optional) <= set(made[s.name]), s.name
    # The app role's URL carries the password PostgreSQL's init script gives that role.
    app_pw = made["protostar-postgres"]["app-password"]
    assert (
        f"protostar_app:{app_pw}@postgres.protostar.svc.cluster.local"
        in (made["protostar-db-app"]["DATABASE_URL"])
    )
    assert made["protostar-redis"]["password"] in made["protostar-redis-client"]["REDIS_URL"]
    # Fresh every time; the public key is the private key's.
    again = cluster_secrets()
    assert again["protostar-jwt-signing"] != made["protostar-jwt-signing"]
    from localplatform.manifests.secrets import public_key_pem

    pem = made["protostar-jwt-signing"]["jwt-signing-key.pem"].encode()
    assert public_key_pem(pem).decode() == made["protostar-jwt-public"]["jwt-public-key.pem"]


def test_task_cluster_secrets_prints_one_secret_manifest_per_purpose(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from localplatform.manifests.secrets import main

    monkeypatch.setenv("GEMINI_API_KEY", "AIza-operator-key")
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    assert main(["--namespace", "staging"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    by_name = {d["metadata"]["name"]: d for d in docs}
    assert set(by_name) == set(BY_NAME)
    for doc in docs:
        assert (doc["apiVersion"], doc["kind"], doc["type"]) == ("v1", "Secret", "Opaque")
        assert doc["metadata"]["namespace"] == "staging"
    assert by_name["protostar-llm"]["stringData"] == {"GEMINI_API_KEY": "AIza-operator-key"}
    assert "SMTP_PASSWORD" not in by_name["protostar-notify"]["stringData"]
    assert (
        "@postgres.staging.svc.cluster.local:5432/"
        in (by_name["protostar-db-app"]["stringData"]["DATABASE_URL"])
    )


def test_secret_files_are_readable_by_the_functions_user_and_nobody_else() -> None:
    """A Secret volume's files belong to root: without fsGroup and a group-readable mode
    the function (uid 10001, the image's user) could not read its own key."""
    for svc in TOPOLOGY.services.values():
        for volume in svc.volumes:
            if "projected" in volume or "secret" in volume:
                spec = volume.get("projected") or volume.get("secret")
                assert spec["defaultMode"] == 0o440, svc.name
                doc = next(
                    m.doc
                    for m in load_manifests(BASE)
                    if m.kind == "Service" and m.name == svc.name
                )
                assert doc["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 10001
