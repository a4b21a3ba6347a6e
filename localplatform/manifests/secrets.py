"""The Secrets the manifests refer to: one per purpose, each given only to the functions
that need it (by ``secretKeyRef`` or a projected volume in their Service).

No Secret is committed. Their values are made in two places, both from this table:

- the local runtime (``task up``) builds them from the data directory's secret files,
  the embedded services' URLs and the user's environment, and resolves each Service's
  references from them, so a manifest that forgets a reference fails locally too;
- ``task cluster:secrets`` prints them as Kubernetes manifests for a cluster (fresh
  passwords and keys, the in-cluster hosts of knative/infra), or applies them with
  kubectl.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class SecretDef:
    name: str
    keys: tuple[str, ...]
    purpose: str  # who gets it, and why only they
    # Keys the operator supplies (API keys, mail credentials); absent unless given. The
    # manifests refer to them with ``optional: true``.
    optional: tuple[str, ...] = ()


# The application's Secrets (referenced from knative/base).
APP_SECRETS: tuple[SecretDef, ...] = (
    SecretDef(
        "protostar-db-app",
        ("DATABASE_URL",),
        "the app role (row-level security applies): every function that uses the database",
    ),
    SecretDef(
        "protostar-db-owner",
        ("DATABASE_MIGRATE_URL",),
        "the owner role (can alter tables and policies): only the migration Job",
    ),
    SecretDef(
        "protostar-redis-client",
        ("REDIS_URL",),
        "quotas, rate limits and caches: the functions that count or cache",
    ),
    SecretDef(
        "protostar-object-store",
        ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "object-store-signing-key"),
        "stored originals and exports: content, embed and users",
        optional=("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"),
    ),
    SecretDef(
        "protostar-jwt-signing",
        ("jwt-signing-key.pem",),
        "the Ed25519 private key that signs tokens: only auth and users",
    ),
    SecretDef(
        "protostar-jwt-public",
        ("jwt-public-key.pem",),
        "the public key that verifies tokens: every function that checks a caller",
    ),
    SecretDef(
        "protostar-llm",
        ("GEMINI_API_KEY", "OPENAI_API_KEY"),
        "model provider keys: chat (answers), embed (embeddings), talent (criteria, query vectors)",
        optional=("GEMINI_API_KEY", "OPENAI_API_KEY"),
    ),
    SecretDef(
        "protostar-notify",
        ("SMTP_USERNAME", "SMTP_PASSWORD", "DISCORD_OPERATOR_WEBHOOK"),
        "mail and Discord credentials: only notify",
        optional=("SMTP_USERNAME", "SMTP_PASSWORD", "DISCORD_OPERATOR_WEBHOOK"),
    ),
)

# Infrastructure Secrets (referenced from knative/infra).
INFRA_SECRETS: tuple[SecretDef, ...] = (
    SecretDef(
        "protostar-postgres",
        ("superuser-password", "owner-password", "app-password"),
        "PostgreSQL's init script on an empty volume (creates the owner and app roles)",
    ),
    SecretDef("protostar-redis", ("password",), "the Redis server's requirepass"),
)

ALL_SECRETS = APP_SECRETS + INFRA_SECRETS
BY_NAME: Mapping[str, SecretDef] = {s.name: s for s in ALL_SECRETS}
# Settings whose value is secret, and the Secret that carries each.
SECRET_SETTINGS: Mapping[str, str] = {
    key: s.name for s in APP_SECRETS for key in s.keys if key.isupper()
}


def public_key_pem(private_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    from shared.accounts.tokens import load_private_key

    return (
        load_private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def local_secrets(
    *,
    files: Mapping[str, bytes],
    urls: Mapping[str, str],
    supplied: Mapping[str, str],
) -> dict[str, dict[str, bytes]]:
    """The app Secrets of a local run.

    ``files``: the data directory's secret files (jwt-signing-key.pem,
    object-store-signing-key); ``urls``: DATABASE_URL, DATABASE_MIGRATE_URL and
    REDIS_URL of the embedded (or configured) services; ``supplied``: the secret
    settings the user set in their environment (API keys, SMTP password, ...).
    """
    values: dict[str, bytes] = {k: v.encode() for k, v in supplied.items() if v}
    values.update({k: v.encode() for k, v in urls.items() if v})
    values["jwt-signing-key.pem"] = files["jwt-signing-key.pem"]
    values["jwt-public-key.pem"] = public_key_pem(files["jwt-signing-key.pem"])
    values["object-store-signing-key"] = files["object-store-signing-key"]
    return {s.name: {key: values[key] for key in s.keys if key in values} for s in APP_SECRETS}


def cluster_secrets(
    *, namespace: str = "protostar", supplied: Mapping[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """Fresh values for every Secret of a cluster deployment (knative/infra hosts)."""
    from shared.secrets import GENERATORS

    supplied = {k: v for k, v in (supplied or {}).items() if v}
    pw = {k: random.token_urlsafe(32) for k in ("superuser", "owner", "app", "redis")}
    private = GENERATORS["jwt-signing-key.pem"]()
    host = f"{namespace}.svc.cluster.local"

    def pg(role: str, password: str) -> str:
        return f"postgresql://{role}:{quote(password, safe='')}@postgres.{host}:5432/protostar"

    values = {
        **supplied,
        "DATABASE_URL": pg("protostar_app", pw["app"]),
        "DATABASE_MIGRATE_URL": pg("protostar_owner", pw["owner"]),
        "REDIS_URL": f"redis://:{quote(pw['redis'], safe='')}@redis.{host}:6379/0",
        "object-store-signing-key": GENERATORS["object-store-signing-key"]().decode(),
        "jwt-signing-key.pem": private.decode(),
        "jwt-public-key.pem": public_key_pem(private).decode(),
        "superuser-password": pw["superuser"],
        "owner-password": pw["owner"],
        "app-password": pw["app"],
        "password": pw["redis"],
    }
    return {s.name: {k: values[k] for k in s.keys if k in values} for s in ALL_SECRETS}


def secret_manifests(made: Mapping[str, Mapping[str, str]], namespace: str) -> str:
    import yaml  # type: ignore[import-untyped,unused-ignore]

    docs = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "protostar"},
                "annotations": {"protostar.dev/purpose": BY_NAME[name].purpose},
            },
            "type": "Opaque",
            "stringData": dict(values),
        }
        for name, values in made.items()
    ]
    return yaml.safe_dump_all(docs, sort_keys=False, width=1000)


def main(argv: list[str] | None = None) -> int:
    """``task cluster:secrets``: every Secret of a cluster deployment, fresh."""
    import argparse
    import os
    import subprocess
    import sys

    parser = argparse.ArgumentParser(
        prog="task cluster:secrets",
        description="Print (or apply) the Secrets of a cluster deployment: fresh passwords "
        "and keys, the in-cluster hosts of knative/infra, and the operator's keys taken "
        "from this environment (" + ", ".join(sorted({*SUPPLIED})) + ").",
    )
    parser.add_argument("--namespace", default="protostar")
    parser.add_argument(
        "--apply", action="store_true", help="kubectl apply them (kubectl must be on PATH)"
    )
    args = parser.parse_args(argv)
    supplied = {k: os.environ[k] for k in SUPPLIED if os.environ.get(k)}
    text = secret_manifests(
        cluster_secrets(namespace=args.namespace, supplied=supplied), args.namespace
    )
    if not args.apply:
        sys.stdout.write(text)
        return 0
    import shutil

    if shutil.which("kubectl") is None:
        print(
            "protostar: kubectl is not on PATH; run without --apply and pipe the output "
            "to `kubectl apply -f -` where it is",
            file=sys.stderr,
        )
        return 2
    return subprocess.run(
        ["kubectl", "apply", "-f", "-"], input=text.encode(), check=False
    ).returncode


# The operator's values (absent unless given in the environment of cluster:secrets).
SUPPLIED = tuple(key for s in APP_SECRETS for key in s.optional)


if __name__ == "__main__":
    raise SystemExit(main())
