"""The functions at full scale cannot exhaust PostgreSQL's connections."""

from __future__ import annotations

import copy

from localplatform.manifests.budget import allowance, over_budget, uses
from localplatform.manifests.load import Manifest, load_manifests
from tests.conftest import ROOT

OVERLAY = load_manifests(ROOT / "knative" / "overlays" / "microk8s")


def test_the_committed_pools_fit_the_budget_with_room() -> None:
    assert over_budget(OVERLAY) is None
    postgres = next(m for m in OVERLAY if m.kind == "StatefulSet" and m.name == "postgres")
    maximum, share = allowance(postgres)
    assert (maximum, share) == (200, 0.8)
    found = {u.service: u for u in uses(OVERLAY)}
    # Every Service with DATABASE_URL is counted, each with its own pool.
    assert "chat" in found
    assert "embedder" not in found
    assert "audit" not in found
    total = sum(u.connections for u in found.values())
    assert total <= maximum * share
    # The public surface may take at most half, so owners keep connections in a flood.
    public = sum(found[s].connections for s in ("chat", "web", "health", "auth"))
    assert public <= maximum * share / 2


def _scaled(name: str, max_scale: str) -> list[Manifest]:
    out = []
    for m in OVERLAY:
        if m.kind == "Service" and m.name == name:
            doc = copy.deepcopy(m.doc)
            annotations = doc["spec"]["template"]["metadata"]["annotations"]
            annotations["autoscaling.knative.dev/max-scale"] = max_scale
            m = Manifest(doc, m.source, m.index)
        out.append(m)
    return out


def test_a_service_scaled_past_the_budget_is_refused_with_the_numbers() -> None:
    why = over_budget(_scaled("chat", "40"))
    assert why is not None
    assert "chat 4x40" in why
    assert "over their budget of 160 (0.8 of max_connections=200)" in why
    assert "no max-scale" in (over_budget(_scaled("chat", "0")) or "")
