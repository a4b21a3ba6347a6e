"""The database connection budget: what the functions can open at full scale, against
what PostgreSQL allows them.

Each Knative Service that gets ``DATABASE_URL`` can hold ``DATABASE_POOL_MAX``
connections per pod (its own ``env`` value, else the ConfigMap's) times its
``max-scale`` pods. Their sum must stay within the share of PostgreSQL's
``max_connections`` given to the functions (the StatefulSet ``postgres``: its
``-c max_connections=N`` argument and its ``protostar.dev/function-connection-share``
annotation); the rest is for the superuser, the migration Job, backups and operators.
Checked by ``task manifests`` on every set that holds both (overlays/microk8s).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from localplatform.manifests.load import Manifest

SHARE = "protostar.dev/function-connection-share"
POSTGRES_DEFAULT_MAX = 100


@dataclass(frozen=True)
class Use:
    service: str
    pool: int
    max_scale: int

    @property
    def connections(self) -> int:
        return self.pool * self.max_scale


def _postgres(manifests: Sequence[Manifest]) -> Manifest | None:
    return next((m for m in manifests if m.kind == "StatefulSet" and m.name == "postgres"), None)


def allowance(postgres: Manifest) -> tuple[int, float]:
    """(max_connections, the functions' share) of the PostgreSQL StatefulSet."""
    spec = postgres.doc["spec"]["template"]["spec"]
    args = [str(a) for c in spec.get("containers") or [] for a in (c.get("args") or [])]
    found = [re.fullmatch(r"max_connections=(\d+)", a) for a in args]
    maximum = next((int(m.group(1)) for m in found if m), POSTGRES_DEFAULT_MAX)
    annotations = postgres.doc.get("metadata", {}).get("annotations") or {}
    return maximum, float(annotations.get(SHARE, "0.8"))


def uses(manifests: Sequence[Manifest]) -> list[Use]:
    config: dict[str, str] = {}
    for m in manifests:
        if m.kind == "ConfigMap" and m.name == "protostar-config":
            config = {str(k): str(v) for k, v in (m.doc.get("data") or {}).items()}
    out = []
    for m in manifests:
        if (m.kind, m.api_version) != ("Service", "serving.knative.dev/v1"):
            continue
        template = m.doc["spec"]["template"]
        (container,) = template["spec"]["containers"][:1] or [{}]
        env = container.get("env") or []
        if not any(e.get("name") == "DATABASE_URL" for e in env):
            continue
        literal = {e["name"]: str(e["value"]) for e in env if "value" in e}
        pool = int(literal.get("DATABASE_POOL_MAX", config.get("DATABASE_POOL_MAX", "10")))
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        max_scale = int(annotations.get("autoscaling.knative.dev/max-scale", "0"))
        out.append(Use(m.name, pool, max_scale))
    return out


def over_budget(manifests: Sequence[Manifest]) -> str | None:
    """Why the set's functions could exhaust PostgreSQL, or None."""
    postgres = _postgres(manifests)
    if postgres is None:
        return None
    found = uses(manifests)
    unbounded = [u.service for u in found if u.max_scale <= 0]
    if unbounded:
        return (
            f"Services {unbounded} use the database with no max-scale: their connections "
            "have no bound"
        )
    maximum, share = allowance(postgres)
    budget = int(maximum * share)
    total = sum(u.connections for u in found)
    if total <= budget:
        return None
    biggest = ", ".join(
        f"{u.service} {u.pool}x{u.max_scale}"
        for u in sorted(found, key=lambda u: -u.connections)[:4]
    )
    return (
        f"the functions can open {total} database connections at full scale (pool x "
        f"max-scale; largest: {biggest}), over their budget of {budget} "
        f"({share:g} of max_connections={maximum}): lower DATABASE_POOL_MAX or max-scale"
    )
