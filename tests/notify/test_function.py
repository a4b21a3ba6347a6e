"""The notify function as deployed: its real ASGI app behind functions-framework, fed
binary-mode CloudEvents; and its Knative Service and Triggers."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from localplatform.manifests import load_manifests
from shared.events.cloudevent import new_event, to_binary
from tests.conftest import ROOT, Database
from tests.notify.conftest import OPERATOR_ID, OPERATOR_TOKEN, ledger_rows, new_user
from tests.notify.fake_discord import FakeDiscord

TYPES = {
    "notify-user-signed-up": "dev.protostar.user.signed_up",
    "notify-user-role-changed": "dev.protostar.user.role_changed",
    "notify-document-failed": "dev.protostar.document.failed",
    "notify-digest-compiled": "dev.protostar.digest.compiled",
    "notify-password-reset-requested": "dev.protostar.password_reset.requested",
}


@pytest.fixture
def notify_env(pg: Database, discord: FakeDiscord) -> Iterator[None]:
    env = {
        "DATABASE_URL": pg.app_url,
        "DISCORD_API_URL": discord.url,
        "DISCORD_OPERATOR_WEBHOOK": discord.add_webhook(OPERATOR_ID, OPERATOR_TOKEN),
        "PROTOSTAR_ENV": "production",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _reset()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _reset()


def _reset() -> None:
    import shared.resources
    from shared.settings import get_settings

    get_settings.cache_clear()
    shared.resources._current = None


@pytest.fixture
async def client(notify_env: None) -> AsyncIterator[httpx.AsyncClient]:
    from functions_framework.aio import create_asgi_app

    app = create_asgi_app("notify", str(ROOT / "functions/notify/main.py"))
    module = sys.modules.get("main")
    if module is not None and hasattr(module, "_notifier"):
        module._notifier = None  # settings of this test, not of an earlier import
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notify") as c:
        yield c
    import shared.resources

    if shared.resources._current is not None:
        await shared.resources._current.close()


async def post(client: httpx.AsyncClient, type_: str, data: Any, **attrs: str) -> httpx.Response:
    event = new_event(type_, "/protostar/tests", data, **attrs)
    headers, body = to_binary(event)
    return await client.post("/", content=body, headers=headers)


async def test_an_event_is_notified_once_and_answered_202(
    client: httpx.AsyncClient, discord: FakeDiscord, pg: Database
) -> None:
    data = {"user_id": new_user(pg), "role": "stargazer"}
    event_id = str(uuid.uuid4())
    for _ in range(2):  # the broker redelivers
        response = await post(client, "dev.protostar.user.signed_up", data, event_id=event_id)
        assert response.status_code == 202
    assert len(discord.received(OPERATOR_ID)) == 1
    assert ledger_rows(pg, event_id)["discord:operator"][0] == "sent"


async def test_a_channel_that_is_down_answers_503_so_the_broker_retries(
    client: httpx.AsyncClient, discord: FakeDiscord, pg: Database
) -> None:
    discord.rate_limit_next(600.0)  # longer than notify waits in one delivery
    data = {"user_id": new_user(pg), "role": "stargazer"}
    response = await post(client, "dev.protostar.user.signed_up", data)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "notification_deferred"
    assert OPERATOR_TOKEN not in response.text


async def test_bad_and_foreign_events_are_400(client: httpx.AsyncClient) -> None:
    bad = await post(client, "dev.protostar.user.signed_up", {"user_id": "nope", "role": "x"})
    assert bad.status_code == 400
    foreign = await post(
        client,
        "dev.protostar.document.uploaded",
        {
            "document_id": str(uuid.uuid4()),
            "bot_id": str(uuid.uuid4()),
            "owner_id": str(uuid.uuid4()),
            "object_key": "k",
            "media_type": "text/plain",
            "size": 1,
        },
    )
    assert foreign.status_code == 400
    assert foreign.json()["error"]["code"] == "unexpected_event_type"


def test_the_service_and_one_trigger_per_type_with_retries_and_dead_letters() -> None:
    manifests = load_manifests(ROOT / "knative" / "base")
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for m in manifests:
        by_kind.setdefault(m.doc["kind"], {})[m.doc["metadata"]["name"]] = m.doc
    service = by_kind["Service"]["notify"]
    assert service["metadata"]["labels"]["protostar.dev/function"] == "notify"
    assert service["metadata"]["labels"]["protostar.dev/surface"] == "internal"
    timeout = service["spec"]["template"]["spec"]["timeoutSeconds"]
    triggers = {n: t for n, t in by_kind["Trigger"].items() if n.startswith("notify-")}
    assert set(triggers) == set(TYPES)
    for name, trigger in triggers.items():
        spec = trigger["spec"]
        assert spec["filter"] == {"attributes": {"type": TYPES[name]}}
        assert "filters" not in spec
        assert spec["subscriber"]["ref"]["name"] == "notify"
        delivery = spec["delivery"]
        assert delivery["retry"] >= 3
        assert delivery["backoffPolicy"] == "exponential"
        assert delivery["deadLetterSink"]["ref"]["name"] == "deadletter"
        assert int(delivery["timeout"].removeprefix("PT").removesuffix("S")) < timeout
    overlay = (ROOT / "knative/overlays/microk8s/kustomization.yaml").read_text()
    assert "protostar/function-notify" in overlay
