"""The CloudEvent types the events catalog (``events/catalog.yaml``) declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from localplatform.manifests.load import ManifestError


def load_catalog_senders(path: Path) -> dict[str, set[str]]:
    """Each function that sends events -> the types it produces (``*`` for the
    catalog's ``senders``, which relay events of others). Each needs K_SINK."""
    doc = _read(path)
    out: dict[str, set[str]] = {}
    for entry in doc.get("events") or []:
        if isinstance(entry, dict) and entry.get("producer"):
            out.setdefault(str(entry["producer"]), set()).add(str(entry.get("type")))
    for relay in doc.get("senders") or []:
        out.setdefault(str(relay), set()).add("*")
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the events catalog: {exc}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestError(f"{path}: the catalog must be a mapping with an 'events' list")
    return doc


def load_catalog_types(path: Path) -> set[str]:
    """The ``type`` of every entry of ``events:`` in the catalog at ``path``.

    Raises ManifestError when the file is missing, is not YAML, or is not shaped
    ``events: [{type: ..., ...}, ...]``.
    """
    events = _read(path).get("events")
    if not isinstance(events, list):
        raise ManifestError(f"{path}: the catalog must be a mapping with an 'events' list")
    types: set[str] = set()
    for position, entry in enumerate(events):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(kind, str) or not kind:
            raise ManifestError(f"{path}: events[{position}] has no 'type' string")
        types.add(kind)
    return types
