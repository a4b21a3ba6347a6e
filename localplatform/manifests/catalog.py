"""The CloudEvent types the events catalog (``events/catalog.yaml``) declares."""

from __future__ import annotations

from pathlib import Path

import yaml  # type: ignore[import-untyped,unused-ignore]

from localplatform.manifests.load import ManifestError


def load_catalog_types(path: Path) -> set[str]:
    """The ``type`` of every entry of ``events:`` in the catalog at ``path``.

    Raises ManifestError when the file is missing, is not YAML, or is not shaped
    ``events: [{type: ..., ...}, ...]``.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the events catalog: {exc}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: invalid YAML: {exc}") from None
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        raise ManifestError(f"{path}: the catalog must be a mapping with an 'events' list")
    types: set[str] = set()
    for position, entry in enumerate(events):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(kind, str) or not kind:
            raise ManifestError(f"{path}: events[{position}] has no 'type' string")
        types.add(kind)
    return types
