"""Read Kubernetes manifests the way ``kustomize`` finds them (resources only).

A directory is a kustomization root: its ``kustomization.yaml`` lists ``resources:``,
each a YAML file or another kustomization directory, followed recursively. A file is
read as a stream of YAML documents. Nothing is transformed: ``namespace:``, ``images:``
and patches are kustomize's business at deploy time; the local runtime and the
validator read the resources as they are written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from shared.errors import ProtostarError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class ManifestError(ProtostarError):
    """A manifest file or kustomization cannot be read; the message names the file."""

    code = "bad_manifest"


@dataclass(frozen=True)
class Manifest:
    """One YAML document: its content, the file it came from and its position there."""

    doc: dict[str, Any]
    source: Path
    index: int

    @property
    def api_version(self) -> str:
        value = self.doc.get("apiVersion")
        return value if isinstance(value, str) else ""

    @property
    def kind(self) -> str:
        value = self.doc.get("kind")
        return value if isinstance(value, str) else ""

    @property
    def name(self) -> str:
        metadata = self.doc.get("metadata")
        value = metadata.get("name") if isinstance(metadata, dict) else None
        return value if isinstance(value, str) else ""


def kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of a directory, or None when it has none."""
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def load_manifests(path: Path) -> list[Manifest]:
    """Every non-empty document under ``path`` (a kustomization dir or a YAML file).

    Raises ManifestError for a missing path, unparsable YAML, a document that is not a
    mapping, a remote resource, or a kustomization that includes itself.
    """
    return _load(_normal(path), stack=())


def _normal(path: Path) -> Path:
    """Absolute, with ``..`` folded, symlinks kept (as kustomize reports paths)."""
    return Path(os.path.normpath(path.absolute()))


def _load(path: Path, stack: tuple[Path, ...]) -> list[Manifest]:
    if path.is_dir():
        return _load_kustomization(path, stack)
    if path.is_file():
        return read_documents(path)
    raise ManifestError(f"{path}: no such file or directory")


def _load_kustomization(directory: Path, stack: tuple[Path, ...]) -> list[Manifest]:
    if directory in stack:
        chain = " -> ".join(str(p) for p in (*stack, directory))
        raise ManifestError(f"{directory}: kustomization includes itself ({chain})")
    kfile = kustomization_file(directory)
    if kfile is None:
        raise ManifestError(f"{directory}: directory has no kustomization.yaml")
    spec = _read_yaml(kfile)
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ManifestError(f"{kfile}: a kustomization must be a mapping")
    resources = spec.get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise ManifestError(f"{kfile}: resources must be a list of paths")
    manifests: list[Manifest] = []
    for entry in resources:
        if "://" in entry or entry.startswith(("github.com/", "git@")):
            raise ManifestError(f"{kfile}: remote resource {entry!r} is not supported")
        target = _normal(directory / entry)
        if not target.exists():
            raise ManifestError(f"{kfile}: resource {entry!r} does not exist ({target})")
        manifests.extend(_load(target, (*stack, directory)))
    return manifests


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: invalid YAML: {_one_line(exc)}") from None


def read_documents(path: Path) -> list[Manifest]:
    """The non-empty YAML documents of one file, each required to be a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from None
    manifests: list[Manifest] = []
    try:
        for index, doc in enumerate(yaml.safe_load_all(text)):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ManifestError(
                    f"{path}: document {index} is a {type(doc).__name__}, not a mapping"
                )
            manifests.append(Manifest(doc=doc, source=path, index=index))
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: invalid YAML: {_one_line(exc)}") from None
    return manifests


def _one_line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"
