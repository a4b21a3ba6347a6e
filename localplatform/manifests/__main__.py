"""``python -m localplatform.manifests [PATH ...]``: validate Knative manifests offline.

With no PATH, validates ``knative/`` at the repository root. A directory is searched
for kustomization roots (``base/``, ``infra/``, ``overlays/*``), each validated as
one deployable set; YAML files outside any kustomization (``argocd/``) are validated
per directory; a YAML file inside a kustomization's tree that no kustomization lists is
a problem (kustomize would silently leave it out). A file PATH is validated alone.

CRD schemas come from ``../shared/knative-crds`` beside the repository (the
``KNATIVE_CRDS`` environment variable overrides); event types from
``events/catalog.yaml``.

Prints ``OK: N manifests valid`` and exits 0, or one line per problem and exits 1.
Exits 2 when the CRD schemas cannot be found.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from localplatform.manifests.catalog import load_catalog_senders, load_catalog_types
from localplatform.manifests.load import (
    KUSTOMIZATION_FILES,
    Manifest,
    ManifestError,
    kustomization_file,
    load_manifests,
)
from localplatform.manifests.validate import Problem, display_path, validate

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = ROOT / "knative"
CATALOG = ROOT / "events" / "catalog.yaml"
EXIT_PROBLEMS = 1
EXIT_CONFIG = 2
_YAML_SUFFIXES = (".yaml", ".yml")


def crd_directory() -> Path:
    """``KNATIVE_CRDS`` if set, else ``shared/knative-crds`` beside the repository."""
    override = os.environ.get("KNATIVE_CRDS")
    return Path(override) if override else ROOT.parent / "shared" / "knative-crds"


def manifest_sets(path: Path) -> tuple[list[Path], list[list[Path]], list[Path]]:
    """``(kustomization roots, loose file groups, files inside a root's tree)`` of ``path``."""
    if path.is_file():
        return [], [[path]], []
    directories = sorted(d for d in (path, *path.rglob("*")) if d.is_dir() and not _hidden(d, path))
    roots = [d for d in directories if kustomization_file(d) is not None]
    loose: dict[Path, list[Path]] = {}
    owned: list[Path] = []
    for file in sorted(path.rglob("*")):
        if file.suffix not in _YAML_SUFFIXES or not file.is_file() or _hidden(file, path):
            continue
        if file.name in KUSTOMIZATION_FILES:
            continue
        if any(root in file.parents for root in roots):
            owned.append(file)
        else:
            loose.setdefault(file.parent, []).append(file)
    return roots, list(loose.values()), owned


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def run(paths: Sequence[Path], crd_dir: Path, catalog_path: Path) -> tuple[list[str], int]:
    """Validate ``paths``; the problem lines and the number of distinct manifests seen."""
    lines: list[str] = []
    catalog: set[str] | None = None
    senders: dict[str, set[str]] | None = None
    if catalog_path.is_file():
        try:
            catalog = load_catalog_types(catalog_path)
            senders = load_catalog_senders(catalog_path)
        except ManifestError as exc:
            lines.append(exc.message)
    else:
        print(
            f"note: {display_path(catalog_path)} not found; Trigger event types not checked",
            file=sys.stderr,
        )
    seen: set[tuple[Path, int]] = set()
    problems: list[Problem] = []
    for path in paths:
        roots, loose, owned = manifest_sets(path.absolute())
        listed: set[Path] = set()
        groups: list[list[Manifest]] = []
        for root in roots:
            try:
                manifests = load_manifests(root)
            except ManifestError as exc:
                lines.append(exc.message)
                continue
            listed.update(m.source for m in manifests)
            groups.append(manifests)
        for files in loose:
            try:
                groups.append([m for file in files for m in load_manifests(file)])
            except ManifestError as exc:
                lines.append(exc.message)
        for file in owned:
            if file not in listed:
                lines.append(
                    f"{display_path(file)}: not listed in any kustomization's resources "
                    "(kustomize would leave it out)"
                )
        for manifests in groups:
            seen.update((m.source, m.index) for m in manifests)
            problems.extend(validate(manifests, crd_dir=crd_dir, catalog=catalog, senders=senders))
    for problem in dict.fromkeys(problems):
        lines.append(str(problem))
    return lines, len(seen)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localplatform.manifests",
        description="Validate Knative manifests against the CRD schemas and admission rules.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[DEFAULT_PATH],
        help="kustomization directories, directories to search, or YAML files (default: knative/)",
    )
    args = parser.parse_args(argv)
    crd_dir = crd_directory()
    if not crd_dir.is_dir() or not any(crd_dir.glob("*.yaml")):
        print(
            f"error: Knative CRD schemas not found in {crd_dir}; "
            "set KNATIVE_CRDS to the directory that holds them",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        for path in missing:
            print(f"error: {path}: no such file or directory", file=sys.stderr)
        return EXIT_CONFIG
    lines, count = run(args.paths, crd_dir, CATALOG)
    if lines:
        for line in lines:
            print(line)
        return EXIT_PROBLEMS
    print(f"OK: {count} manifests valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
