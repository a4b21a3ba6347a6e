"""Knative CRD schemas, turned into JSON Schema validators.

A CustomResourceDefinition holds an OpenAPI v3 *structural* schema per served version.
It is not JSON Schema as is; the API server gives it Kubernetes semantics, which we
reproduce for draft 7:

- an object that lists ``properties`` refuses other fields (the API server drops or,
  under strict field validation, refuses them) unless it says
  ``x-kubernetes-preserve-unknown-fields: true``;
- ``x-kubernetes-int-or-string`` accepts an integer or a string;
- ``nullable: true`` accepts null;
- ``x-kubernetes-embedded-resource`` objects always accept apiVersion, kind, metadata;
- ``x-kubernetes-list-type: map`` lists refuse two items with the same key fields,
  ``set`` lists refuse duplicates.

Eventing CRDs declare no ``apiVersion``/``kind``/``metadata`` at the root, so callers
validate each top-level field (``spec``) against its own subschema and check the root
themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]
from jsonschema import Draft7Validator, ValidationError  # type: ignore[import-untyped,unused-ignore]
from jsonschema.validators import extend  # type: ignore[import-untyped,unused-ignore]

from localplatform.manifests.load import ManifestError

_DROPPED = ("description", "default", "example", "externalDocs")


@dataclass(frozen=True)
class Crd:
    """The schema of one served version of one kind."""

    group: str
    version: str
    kind: str
    source: Path
    schema: dict[str, Any] = field(repr=False, compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def top_level(self) -> dict[str, Any]:
        """Converted subschemas of the root fields the CRD declares (spec, status, ...)."""
        props = self.schema.get("properties")
        return props if isinstance(props, dict) else {}


@dataclass(frozen=True)
class SchemaError:
    """One schema violation: where (``spec.template...``) and what."""

    path: tuple[str | int, ...]
    message: str
    validator: str


@functools.cache
def load_crds(directory: Path) -> dict[tuple[str, str], Crd]:
    """Every served version of every CRD in ``directory``, keyed by (apiVersion, kind)."""
    if not directory.is_dir():
        raise ManifestError(f"{directory}: CRD directory not found")
    crds: dict[tuple[str, str], Crd] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise ManifestError(f"{path}: invalid YAML: {exc}") from None
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            group = spec.get("group")
            kind = (spec.get("names") or {}).get("kind")
            for version in spec.get("versions") or []:
                if not version.get("served", True):
                    continue
                raw = ((version.get("schema") or {}).get("openAPIV3Schema")) or spec.get(
                    "validation", {}
                ).get("openAPIV3Schema")
                if not (isinstance(group, str) and isinstance(kind, str) and raw):
                    continue
                crd = Crd(group, version["name"], kind, path, to_json_schema(raw))
                crds[(crd.api_version, kind)] = crd
    if not crds:
        raise ManifestError(f"{directory}: no CustomResourceDefinition found")
    return crds


def to_json_schema(node: Any) -> Any:
    """A Kubernetes structural schema rewritten as draft-7 JSON Schema."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [to_json_schema(sub) for sub in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    return out


def _list_map_keys(
    validator: Any, keys: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(instance, list):
        return
    seen: dict[tuple[Any, ...], int] = {}
    for position, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        ident = tuple(repr(item.get(k)) for k in keys)
        if ident in seen:
            shown = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
            yield ValidationError(
                f"items {seen[ident]} and {position} have the same {shown}", path=[position]
            )
        else:
            seen[ident] = position


_Validator: Any = extend(  # type: ignore[no-untyped-call,unused-ignore]
    Draft7Validator, {"x-kubernetes-list-map-keys": _list_map_keys}
)


@functools.cache
def _validator(crd: Crd, field_name: str) -> Any:
    return _Validator(crd.top_level[field_name])


def schema_errors(crd: Crd, field_name: str, value: Any) -> list[SchemaError]:
    """Violations of ``value`` against the CRD's subschema of root field ``field_name``."""
    validator = _validator(crd, field_name)
    errors: list[SchemaError] = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = (field_name, *error.absolute_path)
        errors.append(SchemaError(path, _describe(error), str(error.validator)))
    return errors


def _describe(error: ValidationError) -> str:
    kind = error.validator
    instance = error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    expected: Any = error.validator_value
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set((schema.get("properties") or {}).keys())
        unknown = sorted(str(k) for k in instance if k not in known)
        allowed = ", ".join(sorted(known))
        return f"unknown field(s) {', '.join(map(repr, unknown))} (allowed: {allowed})"
    if kind == "required":
        return f"required field {error.message.split(' ')[0]} is missing"
    if kind == "type":
        if isinstance(expected, list):
            expected = " or ".join(map(str, expected))
        return f"must be of type {expected}, got {json_type(instance)} {instance!r}"
    if kind == "anyOf" and schema.get("x-kubernetes-int-or-string"):
        return f"must be an integer or a string, got {json_type(instance)} {instance!r}"
    if kind == "enum":
        allowed = ", ".join(map(repr, expected))
        return f"{instance!r} is not one of {allowed}"
    return str(error.message)


def json_type(value: Any) -> str:
    """The JSON/YAML name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
