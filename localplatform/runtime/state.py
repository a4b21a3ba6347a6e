"""``<data>/runtime.json``: where a running local runtime listens (no secrets in it), so
CLI tools (``task events:dlq``) can find the broker and the embedded database."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shared.errors import ServiceUnavailable
from shared.secrets import SecretStore
from shared.settings import Settings

STATE_FILE = "runtime.json"


@dataclass
class RuntimeState:
    pid: int
    public_url: str
    broker_url: str
    broker_backend: str
    postgres_port: int | None = None
    redis_port: int | None = None
    services: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, data_dir: Path) -> None:
        tmp = data_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, data_dir / STATE_FILE)

    @classmethod
    def read(cls, data_dir: Path) -> RuntimeState:
        try:
            raw = json.loads((data_dir / STATE_FILE).read_text())
        except FileNotFoundError:
            raise ServiceUnavailable(
                f"no local runtime state in {data_dir}; is `task up` running?"
            ) from None
        return cls(**raw)


def database_url(settings: Settings, state: RuntimeState | None) -> str:
    """The app-role URL: DATABASE_URL, or the embedded server of a running runtime."""
    if settings.database_url:
        return settings.database_url
    if state is None or state.postgres_port is None:
        raise ServiceUnavailable("DATABASE_URL is not set and no embedded PostgreSQL runs")
    password = SecretStore(settings.secrets_path, create=False).get("postgres-app-password")
    return (
        f"postgresql://protostar_app:{quote(password, safe='')}@127.0.0.1:"
        f"{state.postgres_port}/protostar"
    )
