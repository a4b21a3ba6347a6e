"""Knative manifests: load them as kustomize lists them, validate them offline.

``python -m localplatform.manifests [PATH ...]`` (``task manifests``) validates ``knative/``
against the Knative CRD schemas and the admission rules those schemas do not carry.
The local runtime reads the same manifests through :func:`load_manifests`.
"""

from localplatform.manifests.catalog import load_catalog_types
from localplatform.manifests.load import Manifest, ManifestError, load_manifests
from localplatform.manifests.validate import Problem, validate

__all__ = [
    "Manifest",
    "ManifestError",
    "Problem",
    "load_catalog_types",
    "load_manifests",
    "validate",
]
