"""Every JSON response the in-process gateway carries is checked against the committed
OpenAPI document: its status must be documented for the operation, and its body must
validate against the documented schema (response models forbid undocumented fields)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from shared.api import openapi

# Statuses any route may answer without listing them: the router's own refusals and
# failures that are never part of an operation's contract.
ANYWHERE = {404, 405, 500}


@functools.cache
def _document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(openapi.committed())
    return doc


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource("urn:openapi", DRAFT202012.create_resource(_document()))


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for path in _document()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        out.append((re.compile(f"^{pattern}$"), path))
    return out


def operation(method: str, path: str) -> dict[str, Any] | None:
    for pattern, template in _templates():
        if pattern.match(path):
            found: dict[str, Any] | None = _document()["paths"][template].get(method.lower())
            return found
    return None


def check(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    op = operation(method, path)
    if op is None or status in ANYWHERE:
        return
    where = f"{method} {path} -> {status}"
    responses = op["responses"]
    assert str(status) in responses, f"{where}: status not documented ({sorted(responses)})"
    if not content_type.startswith("application/json") or not body:
        return
    schema = responses[str(status)].get("content", {}).get("application/json", {}).get("schema")
    assert schema is not None, f"{where}: a JSON body where none is documented"
    if "$ref" in schema:
        schema = {"$ref": "urn:openapi" + schema["$ref"]}
    validator = Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.path))
    assert not errors, f"{where}: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message[:200]}" for e in errors[:5]
    )
