"""The runtime as a whole, on BOTH broker backends: manifests -> Triggers, PingSources,
outbox relay, dead letters; SIGKILL mid-flight loses no accepted event; a RabbitMQ
``stop_app``/``start_app`` loses nothing; scale-to-zero."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from starlette.responses import Response

from localplatform.broker.model import TriggerSpec
from localplatform.embedded.procs import free_port
from shared.events.cloudevent import CloudEvent, new_event, to_binary
from tests.conftest import ROOT, workdir
from tests.support.runtime import Up, clean_env
from tests.support.subscriber import Subscriber, running_subscriber

pytestmark = pytest.mark.e2e
BASE = ROOT / "knative" / "base"


def _doc(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def write_manifests(
    directory: Path, namespace: str, sub: Subscriber, *, scale_window: str | None = None
) -> Path:
    """A kustomization like knative/base, with Triggers to the test's subscriber."""
    directory.mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, Any]] = []
    for name in ("health", "outbox-relay", "deadletter"):
        doc = _doc(BASE / "services" / f"{name}.yaml")
        if scale_window:
            notes = doc["spec"]["template"]["metadata"]["annotations"]
            notes["autoscaling.knative.dev/window"] = scale_window
            notes["autoscaling.knative.dev/scale-to-zero-pod-retention-period"] = "0s"
        docs.append(doc)
    route = _doc(BASE / "routes" / "public.yaml")
    route["spec"]["rules"] = [
        r for r in route["spec"]["rules"] if r["backendRefs"][0]["name"] == "health"
    ]
    docs.append(route)
    broker = _doc(BASE / "eventing" / "broker.yaml")
    broker["spec"]["delivery"].update(
        {"retry": 2, "backoffPolicy": "linear", "backoffDelay": "PT0.05S"}
    )
    docs.append(broker)

    def trigger(name: str, type_: str, path: str, parallelism: str = "1") -> dict[str, Any]:
        return {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {
                "name": name,
                "annotations": {"rabbitmq.eventing.knative.dev/parallelism": parallelism},
            },
            "spec": {
                "broker": "default",
                "filter": {"attributes": {"type": type_}},
                "subscriber": {"uri": sub.url(path)},
            },
        }

    docs.append(trigger("ready", "dev.protostar.document.ready", "ready"))
    docs.append(trigger("failed", "dev.protostar.document.failed", "failing"))
    ping = _doc(BASE / "eventing" / "pingsource-outbox-relay.yaml")
    ping["spec"]["schedule"] = "*/2 * * * * *"  # seconds first: every 2 seconds
    docs.append(ping)
    return write_kustomization(directory, namespace, docs)


def write_kustomization(directory: Path, namespace: str, docs: list[dict[str, Any]]) -> Path:
    """``docs`` as one kustomization of ``namespace`` in ``directory``, with the real
    SinkBinding (the only way a function gets K_SINK), ConfigMap (the settings) and
    migration Job (nothing else creates the tables)."""
    if not any(d["kind"] == "SinkBinding" for d in docs):
        docs = [*docs, _doc(BASE / "eventing" / "sinkbinding-producers.yaml")]
    if not any(d["kind"] == "ConfigMap" for d in docs):
        docs = [*docs, _doc(BASE / "config.yaml")]
    if not any(d["kind"] == "Job" for d in docs):
        docs = [*docs, _doc(BASE / "jobs" / "migrate.yaml")]
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs))
    (directory / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": namespace,
                "resources": ["all.yaml"],
            }
        )
    )
    return directory


RABBIT = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture(params=["postgres", "rabbitmq"])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "rabbitmq":
        request.getfixturevalue("rabbitmq_url")
        return {"RABBITMQ_URL": RABBIT, "BROKER_BACKEND": "rabbitmq"}
    return {"BROKER_BACKEND": "postgres"}


@pytest.fixture
async def sub() -> AsyncIterator[Subscriber]:
    async with running_subscriber() as s:
        yield s


@pytest.fixture
async def namespace(backend_env: dict[str, str]) -> AsyncIterator[str]:
    ns = f"e2e{uuid.uuid4().hex[:8]}"
    yield ns
    if "RABBITMQ_URL" in backend_env:
        await delete_rabbit(ns)


async def delete_rabbit(ns: str) -> None:
    """Remove the test's exchange and queues from the shared RabbitMQ."""
    from localplatform.broker.rabbitmq import RabbitMQBackend

    backend = RabbitMQBackend(RABBIT, namespace=ns)
    await backend.start([])
    await backend.delete([TriggerSpec(n, "default", "", namespace=ns) for n in ("ready", "failed")])
    await backend.close()


def start(data: Path, manifests: Path, env: dict[str, str], *args: str) -> Up:
    return Up(
        data,
        free_port(),
        extra_env=env,
        args=["--manifests", str(manifests), "--status", "off", *args],
    )


async def wait_state(up: Up) -> dict[str, Any]:
    return await asyncio.to_thread(up.wait_state)


async def publish(broker_url: str, event: CloudEvent) -> int:
    headers, body = to_binary(event)
    async with httpx.AsyncClient(timeout=15) as client:
        try:
            response = await client.post(broker_url, content=body, headers=headers)
        except httpx.HTTPError:
            return 0
    return response.status_code


def ready_event(n: int = 0) -> CloudEvent:
    return new_event(
        "dev.protostar.document.ready",
        "/test",
        {
            "document_id": str(uuid.uuid4()),
            "bot_id": str(uuid.uuid4()),
            "chunks": n,
            "embedding_model": "m",
        },
    )


def app_db_url(data: Path, state: dict[str, Any]) -> str:
    password = (data / "secrets" / "postgres-app-password").read_text().strip()
    return f"postgresql://protostar_app:{password}@127.0.0.1:{state['postgres_port']}/protostar"


async def test_triggers_dead_letters_and_outbox_relay(
    backend_env: dict[str, str], namespace: str, sub: Subscriber
) -> None:
    sub.behaviours["failing"] = lambda *_: Response(b"nope", status_code=500)
    root = workdir("evt")
    up = start(root / "data", write_manifests(root / "m", namespace, sub), backend_env)
    try:
        state = await wait_state(up)
        assert state["broker_backend"] == backend_env["BROKER_BACKEND"]
        broker = state["broker_url"]
        assert broker.endswith(f"/{namespace}/default")

        sent = ready_event(1)
        assert await publish(broker, sent) == 202
        (got,) = await sub.wait_for("ready", 1)
        assert got.event.id == sent.id
        assert got.event.json() == sent.json()

        failed = new_event(
            "dev.protostar.document.failed",
            "/test",
            {"document_id": str(uuid.uuid4()), "bot_id": str(uuid.uuid4()), "reason": "x"},
        )
        assert await publish(broker, failed) == 202
        await sub.wait_for("failing", 3)  # first try + 2 retries
        url = app_db_url(root / "data", state)
        deadline = time.monotonic() + 20
        rows: list[Any] = []
        while time.monotonic() < deadline and not rows:
            with psycopg.connect(url) as conn:
                rows = conn.execute(
                    "SELECT error_code, destination FROM dead_letters WHERE event_id = %s",
                    (failed.id,),
                ).fetchall()
            await asyncio.sleep(0.2)
        assert rows == [("500", sub.url("failing"))]

        # task events:dlq lists it, and replays it once the subscriber is healthy again.
        async def dlq(*args: str) -> str:
            env = clean_env({"PROTOSTAR_DATA": str(root / "data")})
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "shared.events.dlq", *args],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            return done.stdout

        listed = await dlq()
        assert failed.id in listed
        assert "dev.protostar.document.failed" in listed
        sub.behaviours.pop("failing")
        assert failed.id in await dlq("replay", "--all")
        again = await sub.wait_for("failing", 4)
        assert again[-1].event.id == failed.id
        assert "knativeerrorcode" not in again[-1].event.attributes
        assert "no dead letters" in await dlq()

        # A producer's outbox row that was never sent: the PingSource wakes outbox-relay.
        orphan = ready_event(7)
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO outbox (event_id, source, type, data, created_at) "
                "VALUES (%s, '/test', %s, %s, now() - interval '1 minute')",
                (orphan.id, orphan.type, psycopg.types.json.Jsonb(orphan.json())),
            )
        relayed = await sub.wait_for("ready", 2, timeout=30)
        assert relayed[1].event.id == orphan.id
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "SELECT sent_at IS NOT NULL FROM outbox WHERE event_id = %s", (orphan.id,)
            ).fetchone() == (True,)

        bad = await publish(broker, new_event("dev.protostar.document.ready", "/t", {"x": 1}))
        assert bad == 400
    finally:
        up.close()


async def test_sigkill_mid_flight_then_restart_delivers_every_accepted_event(
    backend_env: dict[str, str], namespace: str, sub: Subscriber
) -> None:
    async def slow(*_: object) -> Response:
        await asyncio.sleep(0.02)
        return Response(status_code=200)

    sub.behaviours["ready"] = slow
    root = workdir("kill")
    manifests = write_manifests(root / "m", namespace, sub)
    up = start(root / "data", manifests, backend_env)
    accepted: list[str] = []
    try:
        state = await wait_state(up)
        for i in range(80):
            event = ready_event(i)
            if await publish(state["broker_url"], event) == 202:
                accepted.append(event.id)
        assert len(accepted) == 80
        await sub.wait_for("ready", 10)
        up.proc.kill()  # SIGKILL: no cleanup code runs
        await asyncio.to_thread(up.proc.wait)
    finally:
        up.close()
    delivered_before = len(set(sub.ids("ready")))
    assert delivered_before < 80, "the kill came too late to prove anything"
    again = start(root / "data", manifests, backend_env)
    try:
        await wait_state(again)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(accepted) <= set(sub.ids("ready")):
            await asyncio.sleep(0.1)
        assert set(accepted) <= set(sub.ids("ready"))
    finally:
        again.close()


async def test_rabbitmq_stop_app_start_app_loses_nothing(
    rabbitmq_url: str, sub: Subscriber
) -> None:
    env = {"RABBITMQ_URL": RABBIT, "BROKER_BACKEND": "rabbitmq"}
    ns = f"e2e{uuid.uuid4().hex[:8]}"
    root = workdir("rmq")
    up = start(root / "data", write_manifests(root / "m", ns, sub), env)
    accepted: list[str] = []
    try:
        state = await wait_state(up)
        broker = state["broker_url"]
        for i in range(20):
            event = ready_event(i)
            if await publish(broker, event) == 202:
                accepted.append(event.id)
        await asyncio.to_thread(
            subprocess.run, ["rabbitmqctl", "stop_app"], check=True, capture_output=True
        )
        try:
            refused = 0
            for i in range(5):
                event = ready_event(100 + i)
                status = await publish(broker, event)
                if status == 202:
                    accepted.append(event.id)
                else:
                    refused += 1
                    assert status == 503
            assert refused > 0
        finally:
            await asyncio.to_thread(
                subprocess.run, ["rabbitmqctl", "start_app"], check=True, capture_output=True
            )
        deadline = time.monotonic() + 60
        sent_after = 0
        while time.monotonic() < deadline and sent_after < 20:
            event = ready_event(200 + sent_after)
            if await publish(broker, event) == 202:
                accepted.append(event.id)
                sent_after += 1
            else:
                await asyncio.sleep(0.5)
        assert sent_after == 20
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(accepted) <= set(sub.ids("ready")):
            await asyncio.sleep(0.1)
        assert set(accepted) <= set(sub.ids("ready"))
    finally:
        up.close()
        await delete_rabbit(ns)


async def test_scale_to_zero_starts_on_first_request_and_stops_when_idle(
    sub: Subscriber,
) -> None:
    root = workdir("s2z")
    manifests = write_manifests(root / "m", f"s2z{uuid.uuid4().hex[:6]}", sub, scale_window="6s")
    up = start(root / "data", manifests, {"BROKER_BACKEND": "postgres"}, "--scale-to-zero")
    try:
        state = await wait_state(up)
        assert state["services"]["health"]["state"] == "scaled-to-zero"
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.get(f"{state['public_url']}/healthz")
        assert response.status_code == 200
        await asyncio.sleep(1.5)
        health = up.state()["services"]["health"]
        assert health["state"] == "ready"
        assert health["cold_starts"] == 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and up.state()["services"]["health"]["state"] != (
            "scaled-to-zero"
        ):
            await asyncio.sleep(0.5)
        assert up.state()["services"]["health"]["state"] == "scaled-to-zero"
        async with httpx.AsyncClient(timeout=60) as client:
            assert (await client.get(f"{state['public_url']}/healthz")).status_code == 200
        await asyncio.sleep(1.5)
        assert up.state()["services"]["health"]["cold_starts"] == 2
    finally:
        up.close()
