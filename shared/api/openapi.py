"""The OpenAPI 3.1 document, generated from the operations of every public function
(their routes and models). ``./scripts/task openapi`` writes it to
shared/api/openapi.json, which the health function serves at ``/api/openapi.json``;
tests/api/test_openapi.py keeps that file equal to what the code generates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from shared.api.contract import Reply
from shared.api.operation import Operation

Json = dict[str, Any]
PATH = Path(__file__).with_name("openapi.json")
TITLE = "Protostar API"
VERSION = "0.2.0"
DESCRIPTION = (
    "Career Q&A: accounts, bots, documents, answers. Errors are "
    '`{"error": {"code", "message", "field"?}}`: `code` is stable (clients translate it), '
    "`field` names the part of the body that was refused."
)

_ERRORS = {
    400: "Bad input",
    401: "Not signed in or token refused",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    411: "Length required",
    413: "Too large",
    429: "Too many requests",
    503: "A dependency is down",
}
_SUCCESS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content"}
_PATH_PARAMS: dict[str, Json] = {
    "bot": {"description": "The bot's slug", "schema": {"type": "string"}},
    "id": {"schema": {"type": "string", "format": "uuid"}},
}


class ErrorDetail(Reply):
    """``code`` is stable; the other fields appear with the errors that carry them."""

    code: str
    message: str
    field: str | None = Field(None, description="The part of the body that was refused")
    detected: str | None = Field(None, description="unsupported_type: the type found")
    # quota_exceeded (429): the window that is used up, and for guests a way on.
    scope: Literal["guest", "daily", "unlimited", "bot_budget"] | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_at: str | None = Field(None, json_schema_extra={"format": "date-time"})
    signup_hint: str | None = None


class Error(Reply):
    error: ErrorDetail


Mode = Literal["validation", "serialization"]


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], Mode]]:
    found: dict[tuple[type[BaseModel], Mode], None] = {(Error, "serialization"): None}
    for op in operations:
        if op.body is not None:
            found[(op.body, "validation")] = None
        for model in op.responses.values():
            if model is not None:
                found[(model, "serialization")] = None
    return list(found)


def _json(schema: Json, description: str) -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _parameters(op: Operation) -> list[Json]:
    params: list[Json] = []
    for name in re.findall(r"\{([^}]+)\}", op.path):
        spec = op.path_params.get(name) or _PATH_PARAMS.get(name) or {"schema": {"type": "string"}}
        params.append({"name": name, "in": "path", "required": True, **spec})
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param: Json = {"name": name, "in": "query", "required": name in required}
            if description:
                param["description"] = description
            params.append({**param, "schema": prop})
    return params


def document(operations: Iterable[Operation], server_url: str = "/") -> Json:
    ops = sorted(operations, key=lambda o: (o.path, o.method))
    refs, defs = models_json_schema(_models(ops), ref_template="#/components/schemas/{model}")
    paths: Json = {}
    for op in ops:
        responses: Json = {}
        for status, model in op.responses.items():
            description = _SUCCESS.get(status) or _ERRORS[status]
            if model is None:
                responses[str(status)] = {"description": description}
            else:
                responses[str(status)] = _json(refs[(model, "serialization")], description)
            extra = op.response_content.get(status)
            if extra:
                responses[str(status)].setdefault("content", {}).update(extra)
        # Any operation fails closed with 503 when a dependency is down; one that needs a
        # token answers 401 without a valid one; a JSON body over its limit is 413.
        implied = {503} | ({401} if not op.public else set())
        if op.body is not None:
            implied.add(413)
        for status in sorted({*op.errors, *implied} - set(op.responses)):
            responses[str(status)] = _json(refs[(Error, "serialization")], _ERRORS[status])
        item: Json = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": op.op_id,
            "responses": responses,
            "security": [] if op.public else [{"bearer": []}],
        }
        params = _parameters(op)
        if params:
            item["parameters"] = params
        if op.request_content is not None:
            item["requestBody"] = {"required": True, "content": op.request_content}
        elif op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def render(doc: Json) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def committed() -> bytes:
    """The generated document as committed (what the health function serves)."""
    return PATH.read_bytes()
