"""Secrets kept as files: generated into the data dir on first local start, never in git.

In production the same files are mounted from Kubernetes Secrets (``SECRETS_DIR``) and
nothing is generated: a missing secret there is a configuration error.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from shared.errors import SettingsError

_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def _random_token() -> bytes:
    return secrets.token_urlsafe(32).encode()


def _ed25519_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# Every secret the system uses, with how to make a fresh one.
GENERATORS: dict[str, Callable[[], bytes]] = {
    "postgres-superuser-password": _random_token,
    "postgres-owner-password": _random_token,
    "postgres-app-password": _random_token,
    "redis-password": _random_token,
    "object-store-signing-key": _random_token,
    "jwt-signing-key.pem": _ed25519_pem,
}


class SecretStore:
    """Read (and, locally, create) secret files in one directory, mode 0600."""

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.directory = directory
        self.create = create

    def path(self, name: str) -> Path:
        if not name or set(name) - _NAME_OK or name.startswith("."):
            raise ValueError(f"invalid secret name {name!r}")
        return self.directory / name

    def get(self, name: str) -> str:
        return self.get_bytes(name).decode().strip()

    def get_bytes(self, name: str) -> bytes:
        path = self.path(name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            if not self.create:
                raise SettingsError(
                    f"SECRETS_DIR: secret {name!r} is missing from {self.directory}"
                ) from None
        return self._generate(name, path)

    def ensure_all(self) -> None:
        for name in GENERATORS:
            self.get_bytes(name)

    def _generate(self, name: str, path: Path) -> bytes:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        value = GENERATORS[name]()
        tmp = path.with_name(f".{name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, value)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # link() fails if another process won the race: then its value is the secret.
            os.link(tmp, path)
        except FileExistsError:
            value = path.read_bytes()
        finally:
            tmp.unlink()
        return value
