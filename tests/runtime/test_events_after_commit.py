"""A write's events leave with its commit (the unit of work), not on outbox-relay's
minute: through the local runtime, with no relay and no PingSource at all, a sign-up
and a password reset reach their Triggers' subscriber within seconds."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import workdir
from tests.runtime.test_runtime_events import BASE, _doc, start, wait_state, write_kustomization
from tests.support.subscriber import Subscriber, running_subscriber

pytestmark = pytest.mark.e2e
SIGNED_UP = "dev.protostar.user.signed_up"
RESET = "dev.protostar.password_reset.requested"


def auth_manifests(directory: Path, namespace: str, sub: Subscriber) -> Path:
    """knative/base's auth Service, config and route, the Broker (and its dead-letter
    sink), and two Triggers to the test's subscriber; no outbox-relay, no PingSource."""
    directory.mkdir(parents=True, exist_ok=True)
    route = _doc(BASE / "routes" / "public.yaml")
    route["spec"]["rules"] = [
        r for r in route["spec"]["rules"] if r["backendRefs"][0]["name"] == "auth"
    ]
    docs: list[dict[str, Any]] = [
        _doc(BASE / "config.yaml"),
        _doc(BASE / "services" / "auth.yaml"),
        _doc(BASE / "services" / "deadletter.yaml"),  # the Broker's dead-letter sink
        route,
        _doc(BASE / "eventing" / "broker.yaml"),
    ]
    for name, type_ in (("signed-up", SIGNED_UP), ("reset", RESET)):
        docs.append(
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Trigger",
                "metadata": {"name": name},
                "spec": {
                    "broker": "default",
                    "filter": {"attributes": {"type": type_}},
                    "subscriber": {"uri": sub.url(name)},
                },
            }
        )
    return write_kustomization(directory, namespace, docs)


@pytest.fixture
async def sub() -> AsyncIterator[Subscriber]:
    async with running_subscriber() as s:
        yield s


async def test_a_password_reset_reaches_its_consumer_within_seconds(sub: Subscriber) -> None:
    root = workdir("after-commit")
    namespace = f"uow{uuid.uuid4().hex[:8]}"
    up = start(
        root / "data", auth_manifests(root / "m", namespace, sub), {"BROKER_BACKEND": "postgres"}
    )
    try:
        await wait_state(up)
        base = f"http://127.0.0.1:{up.port}"
        email = f"reset-{uuid.uuid4().hex[:8]}@example.com"
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            signed = await client.post(
                "/api/auth/signup", json={"email": email, "password": "a long enough pass 1"}
            )
            assert signed.status_code == 201, signed.text
            (joined,) = await sub.wait_for("signed-up", 1, timeout=10)
            assert joined.event.json()["user_id"] == signed.json()["user"]["id"]

            asked = time.monotonic()
            reset = await client.post("/api/auth/password-reset", json={"email": email})
            assert reset.status_code == 202, reset.text
            (got,) = await sub.wait_for("reset", 1, timeout=10)
        took = got.at - asked
        data = got.event.json()
        assert data["email"] == email
        assert "/reset#token=" in data["reset_url"]
        # Sent right after the commit: nothing here would relay it (outbox-relay runs
        # once a minute in knative/base, and this system has none).
        assert took < 5, f"the reset event took {took:.1f} s"
    finally:
        up.close()
