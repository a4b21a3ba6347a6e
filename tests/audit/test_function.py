"""The audit function behind its real ASGI app: 202 only after the line and (for a new
file) the directory are fsynced; redeliveries write once; bad events are 400; and the
knative/ Triggers send it exactly the audited types."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localplatform.manifests.load import load_manifests
from localplatform.runtime.topology import build_topology
from shared.audit.entry import AUDITED
from shared.audit.verify import verify
from shared.events.catalog import default_catalog
from shared.events.cloudevent import new_event, to_binary
from tests.conftest import ROOT

USER = "0b9d0c5e-6c1f-4a57-9a57-3f0c0c2b0f00"


@pytest.fixture
def audit_dir(tmp_path: Path) -> Iterator[Path]:
    import shared.resources
    from shared.settings import get_settings

    directory = tmp_path / "audit"
    saved = os.environ.get("AUDIT_DIR")
    os.environ["AUDIT_DIR"] = str(directory)
    get_settings.cache_clear()
    shared.resources._current = None
    yield directory
    if saved is None:
        os.environ.pop("AUDIT_DIR", None)
    else:
        os.environ["AUDIT_DIR"] = saved
    get_settings.cache_clear()
    shared.resources._current = None


class Recorder:
    """Wraps the app: notes when the response starts, beside the fsyncs."""

    def __init__(self, app: ASGIApp, timeline: list[tuple[str, str]]) -> None:
        self.app = app
        self.timeline = timeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.timeline.append(("response", str(message["status"])))
            await send(message)

        await self.app(scope, receive, noting)


@pytest.fixture
async def client(audit_dir: Path) -> AsyncIterator[tuple[httpx.AsyncClient, list[tuple[str, str]]]]:
    from functions_framework.aio import create_asgi_app

    timeline: list[tuple[str, str]] = []
    app = Recorder(create_asgi_app("audit", str(ROOT / "functions/audit/main.py")), timeline)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as c:
        yield c, timeline


def day_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl"))


def signed_up(event_id: str | None = None) -> tuple[dict[str, str], bytes]:
    return to_binary(
        new_event(
            "dev.protostar.user.signed_up",
            "/protostar/auth",
            {"user_id": USER, "role": "stargazer"},
            event_id=event_id,
        )
    )


async def test_fsync_of_line_and_directory_happens_before_the_2xx(
    client: tuple[httpx.AsyncClient, list[tuple[str, str]]],
    audit_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http, timeline = client
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        timeline.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    monkeypatch.setattr(os, "fsync", fsync)
    headers, body = signed_up()
    response = await http.post("/", headers=headers, content=body)
    assert response.status_code == 202, response.text
    (day,) = day_files(audit_dir)
    kinds = [kind for kind, _ in timeline]
    assert kinds[-1] == "response"
    synced = [what for kind, what in timeline[:-1] if kind == "fsync"]
    assert str(day) in synced  # the line
    assert str(audit_dir) in synced  # the new file's directory entry
    assert synced.index(str(day)) < synced.index(str(audit_dir))
    # A second event in the same file: the line is synced again, before its 2xx.
    timeline.clear()
    headers, body = signed_up()
    assert (await http.post("/", headers=headers, content=body)).status_code == 202
    assert [k for k, _ in timeline][-1] == "response"
    assert ("fsync", str(day)) in timeline[:-1]


async def test_failed_write_is_not_acknowledged(
    client: tuple[httpx.AsyncClient, list[tuple[str, str]]],
    audit_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http, _ = client

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    headers, body = signed_up("evt-io")
    response = await http.post("/", headers=headers, content=body)
    assert response.status_code >= 500  # the broker retries it
    monkeypatch.undo()
    assert (await http.post("/", headers=headers, content=body)).status_code == 202
    lines = [ln for f in day_files(audit_dir) for ln in f.read_bytes().splitlines()]
    assert [json.loads(ln)["id"] for ln in lines] == ["evt-io"]


async def test_redeliveries_write_once_even_concurrently(
    client: tuple[httpx.AsyncClient, list[tuple[str, str]]], audit_dir: Path
) -> None:
    http, _ = client
    headers, body = signed_up(f"evt-{uuid.uuid4()}")
    responses = await asyncio.gather(
        *(http.post("/", headers=headers, content=body) for _ in range(8))
    )
    assert [r.status_code for r in responses] == [202] * 8
    report = verify(audit_dir)
    assert (report.ok, report.lines) == (True, 1)
    line = json.loads(day_files(audit_dir)[0].read_bytes())
    assert line["type"] == "dev.protostar.user.signed_up"
    assert line["data"] == {"user_id": USER, "role": "stargazer"}


@pytest.mark.parametrize(
    ("type_", "data", "code"),
    [
        ("dev.protostar.document.ready", None, "unexpected_event_type"),
        ("dev.protostar.user.signed_up", {"user_id": "not-a-uuid", "role": "x"}, None),
        ("dev.protostar.no.such", {"a": 1}, "unknown_event_type"),
    ],
)
async def test_bad_events_are_400_and_write_nothing(
    client: tuple[httpx.AsyncClient, list[tuple[str, str]]],
    audit_dir: Path,
    type_: str,
    data: Any,
    code: str | None,
) -> None:
    http, _ = client
    if data is None:
        data = {
            "document_id": USER,
            "bot_id": USER,
            "chunks": 1,
            "embedding_model": "m",
        }
    attrs = {"specversion": "1.0", "id": "x", "source": "/s", "type": type_}
    headers = {f"ce-{k}": v for k, v in attrs.items()} | {"content-type": "application/json"}
    response = await http.post("/", headers=headers, content=json.dumps(data))
    assert response.status_code == 400
    if code:
        assert response.json()["error"]["code"] == code
    assert day_files(audit_dir) == []
    not_an_event = await http.post("/", content=b"{}", headers={"content-type": "text/plain"})
    assert not_an_event.status_code == 400


def test_every_audited_type_has_its_trigger_and_catalog_entry() -> None:
    topology = build_topology(load_manifests(ROOT / "knative" / "base"))
    routed = {t.filters["type"]: t for t in topology.triggers if t.subscriber.service == "audit"}
    assert set(routed) == set(AUDITED)
    assert len([t for t in topology.triggers if t.subscriber.service == "audit"]) == len(AUDITED)
    catalog = default_catalog()
    for type_, trigger in routed.items():
        assert set(trigger.filters) == {"type"}
        assert "audit" in catalog.entries[type_].consumers
        name = type_.removeprefix("dev.protostar.").replace(".", "-").replace("_", "-")
        assert trigger.name == f"audit-{name}"
        assert trigger.delivery["deadLetterSink"]["ref"]["name"] == "deadletter"
        assert trigger.delivery["retry"] >= 5
        assert trigger.delivery["backoffPolicy"] == "exponential"
    # Every catalog entry naming audit as a consumer is routed to it.
    assert {t for t, e in catalog.entries.items() if "audit" in e.consumers} == set(AUDITED)
    service = topology.services["audit"]
    assert (service.function, service.target, service.max_scale) == ("audit", "audit", 1)
