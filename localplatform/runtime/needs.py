"""What each function needs from its manifest in production, and whether it gets it.

Each function declares its needs beside its code, in ``functions/<dir>/needs.yaml``::

    settings: [DATABASE_URL, PUBLIC_URL, SECRETS_DIR]   # environment variables
    secrets: [jwt-public-key.pem]                       # files in SECRETS_DIR

:func:`unmet` holds a Service's manifest (``env``, ``envFrom``, ``valueFrom``, volumes)
against them, with the committed ConfigMaps and the Secrets of
:mod:`localplatform.manifests.secrets` (optional keys count as absent: an operator
may leave them out). ``task up`` refuses to start on any unmet need, naming the
manifest, the Service, the function and the setting; tests/manifests/test_needs.py
checks every function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped,unused-ignore]

from localplatform.manifests.secrets import APP_SECRETS
from localplatform.runtime.environment import ContainerConfigError, Objects, plan
from localplatform.runtime.topology import ServiceSpec, Topology, TopologyError

NEEDS_FILE = "needs.yaml"


@dataclass(frozen=True)
class Needs:
    function: str
    settings: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()


def load_needs(functions: Path, function: str) -> Needs:
    path = functions / function / NEEDS_FILE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise TopologyError(
            f"functions/{function}/{NEEDS_FILE} is missing: every function declares what "
            "it needs from its manifest"
        ) from None
    unknown = set(raw) - {"settings", "secrets", "groups"}
    if unknown or not isinstance(raw, dict):
        raise TopologyError(f"functions/{function}/{NEEDS_FILE}: unknown keys {sorted(unknown)}")
    return Needs(
        function,
        settings=tuple(str(s) for s in raw.get("settings") or ()),
        secrets=tuple(str(s) for s in raw.get("secrets") or ()),
    )


def declared_objects(topo: Topology) -> Objects:
    """The ConfigMaps as committed and every Secret with its required keys."""
    return Objects(
        configmaps=topo.configmaps,
        secrets={
            s.name: {key: b"" for key in s.keys if key not in s.optional} for s in APP_SECRETS
        },
    )


def unmet(svc: ServiceSpec, needs: Needs, objects: Objects) -> list[str]:
    """Why ``svc``'s manifest does not give its function what it needs (empty: it does)."""
    who = f"Service {svc.name} (functions/{svc.function})"
    try:
        planned = plan(svc.container, list(svc.volumes), objects)
    except ContainerConfigError as exc:
        return [f"{who}: {exc}"]
    problems = [
        f"{who} needs {name}, which its manifest does not give it (env, envFrom or valueFrom)"
        for name in needs.settings
        if name not in planned.env
    ]
    if needs.secrets:
        directory = planned.env.get("SECRETS_DIR")
        if directory is None:
            problems.append(f"{who} needs SECRETS_DIR for its secret files, which is not set")
        else:
            present = planned.files_at(directory)
            problems += [
                f"{who} needs the secret file {name} in SECRETS_DIR ({directory}), which no "
                "volume of its manifest mounts there"
                for name in needs.secrets
                if name not in present
            ]
    return problems


def unmet_needs(topo: Topology, functions: Path) -> list[tuple[ServiceSpec, str]]:
    objects = declared_objects(topo)
    return [
        (svc, problem)
        for svc in topo.services.values()
        for problem in unmet(svc, load_needs(functions, svc.function), objects)
    ]
