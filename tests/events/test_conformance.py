"""The CloudEvents HTTP conformance cases (../shared/cloudevents-conformance), replayed
against a CloudEvent function, arrive with exactly their attributes and data."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.routing import Route

from shared.events.catalog import Catalog
from shared.events.cloudevent import CloudEvent, is_json_type
from shared.events.receive import cloudevent_endpoint
from tests.conftest import ROOT

CASES_DIR = ROOT.parent / "shared" / "cloudevents-conformance"


def _cases() -> list[Any]:
    if not CASES_DIR.exists():
        pytest.skip(f"conformance cases not found at {CASES_DIR}")
    out = []
    for name in ("v1.yaml", "v1_minimum.yaml"):
        for i, doc in enumerate(yaml.safe_load_all((CASES_DIR / name).read_text())):
            if doc:
                out.append(pytest.param(doc, id=f"{name}#{i}"))
    return out


def _expected_attributes(doc: dict[str, Any]) -> dict[str, str]:
    attrs = {k: v for k, v in doc["ContextAttributes"].items() if k != "Extensions"}
    attrs.update(doc["ContextAttributes"].get("Extensions") or {})
    return {k: _text(v) for k, v in attrs.items()}


def _text(value: Any) -> str:
    if isinstance(value, float):  # YAML reads specversion 1.0 as a float
        return f"{value:.1f}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    return str(value)


def _request(doc: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    attrs = _expected_attributes(doc)
    headers = {k: str(v) for k, v in (doc.get("TransportExtensions") or {}).items()}
    data: str = doc.get("Data") or ""
    if doc.get("Mode", "binary") == "structured":
        envelope: dict[str, Any] = dict(attrs)
        content_type = attrs.get("datacontenttype")
        envelope["data"] = (
            json.loads(data) if content_type is None or is_json_type(content_type) else data
        )
        headers["content-type"] = "application/cloudevents+json; charset=utf-8"
        return headers, json.dumps(envelope).encode()
    for key, value in attrs.items():
        if key == "datacontenttype":
            headers["content-type"] = value
        else:
            headers[f"ce-{key}"] = value.strip()
    return headers, data.encode()


@pytest.fixture
def receiver() -> tuple[httpx.AsyncClient, list[CloudEvent]]:
    got: list[CloudEvent] = []

    @cloudevent_endpoint(catalog=Catalog({}), allow_unknown=True)
    async def record(event: CloudEvent) -> None:
        got.append(event)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST", "GET"])])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fn")
    return client, got


@pytest.mark.parametrize("doc", _cases())
async def test_conformance_case(
    doc: dict[str, Any], receiver: tuple[httpx.AsyncClient, list[CloudEvent]]
) -> None:
    client, got = receiver
    headers, body = _request(doc)
    response = await client.post("/", headers=headers, content=body)
    assert response.status_code == 202, response.text
    (event,) = got
    expected = _expected_attributes(doc)
    actual = dict(event.attributes)
    if doc.get("Mode") == "structured" and "datacontenttype" not in expected:
        assert actual.pop("datacontenttype") == "application/json"
    # Multi-line extension values travel as one header line in binary mode.
    expected = {
        k: v.strip() if doc.get("Mode", "binary") == "binary" else v for k, v in expected.items()
    }
    assert actual == expected
    data = doc.get("Data") or ""
    if event.is_json() or is_json_type(expected.get("datacontenttype")):
        assert event.json() == json.loads(data)
    else:
        assert event.data == data.encode()


def _feature_scenarios() -> list[Any]:
    text = (CASES_DIR / "http-protocol-binding.feature").read_text()
    blocks = [textwrap.dedent(b) for b in re.findall(r'"""\n( *POST .*?)\n *"""', text, re.S)]
    types = re.findall(r"^ *\| (application/[^|]+?) *\|$", text, re.M)
    out = []
    for block, kinds in zip(blocks, (types[:2], types[2:]), strict=True):
        for kind in kinds:
            out.append(
                pytest.param(
                    block.replace("<contentType>", kind.strip()), kind.strip(), id=kind.strip()
                )
            )
    return out


@pytest.mark.parametrize(("raw", "content_type"), _feature_scenarios())
async def test_feature_scenarios(
    raw: str, content_type: str, receiver: tuple[httpx.AsyncClient, list[CloudEvent]]
) -> None:
    client, got = receiver
    head, _, body = raw.partition("\n\n")
    headers = {}
    for line in head.splitlines()[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() not in ("host", "content-length"):
            headers[key.strip()] = value.strip()
    response = await client.post("/someresource", headers=headers, content=body.encode())
    assert response.status_code == 202, response.text
    (event,) = got
    assert event.id == "1234-1234-1234"
    assert event.type == "com.example.someevent"
    assert event.source == "/mycontext/subcontext"
    assert event.attributes["time"] == "2018-04-05T03:56:24Z"
    assert event.attributes["specversion"] == "1.0"
    assert event.json() == {"message": "Hello World!"}
    if content_type.startswith("application/json"):
        assert event.datacontenttype == content_type
    else:
        assert event.datacontenttype == "application/json"


def test_cases_are_present() -> None:
    assert len(_cases()) == 8
    assert len(_feature_scenarios()) == 4
