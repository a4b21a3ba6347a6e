"""A container's environment and mounted files, made from its manifest the way the
kubelet makes them, so that a function process locally gets what it would get in its
pod and nothing more.

``plan()`` reads a container (``env``, ``envFrom``, ``volumeMounts``) and its pod's
``volumes`` against the ConfigMaps and Secrets that exist, and answers the environment
and the files of each mount, in container paths; or raises :class:`ContainerConfigError`
naming what is missing, as the kubelet refuses to start such a container
(``CreateContainerConfigError``). ``Plan.materialise()`` writes the files of Secret,
ConfigMap and projected volumes into a local directory per Service and rewrites the
environment values that point into a mount to the local directory (the one thing a
process outside a container cannot have: the container's file system).

Supported, as in Kubernetes: ``env[].value`` with ``$(VAR)`` references,
``valueFrom.configMapKeyRef`` / ``secretKeyRef`` (``optional``), ``envFrom``
``configMapRef`` / ``secretRef`` (``prefix``, ``optional``; later sources win, ``env``
wins over ``envFrom``), volumes ``secret``, ``configMap``, ``projected`` (their
``items`` and ``optional``), ``persistentVolumeClaim`` and ``emptyDir``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import ProtostarError

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


class ContainerConfigError(ProtostarError):
    code = "bad_environment"


@dataclass(frozen=True)
class Objects:
    """The ConfigMaps and Secrets of the namespace, by name."""

    configmaps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> Mapping[str, bytes] | None:
        if kind == "ConfigMap":
            data = self.configmaps.get(name)
            return None if data is None else {k: v.encode() for k, v in data.items()}
        return self.secrets.get(name)


@dataclass(frozen=True)
class Mount:
    path: str  # the container path
    kind: str  # "files" (Secret, ConfigMap, projected), "claim" or "empty"
    volume: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    claim: str = ""


@dataclass
class Plan:
    env: dict[str, str]
    mounts: list[Mount]

    def files_at(self, path: str) -> set[str]:
        """The file names a process sees in directory ``path`` of its container."""
        names: set[str] = set()
        for mount in self.mounts:
            if mount.path.rstrip("/") == path.rstrip("/"):
                names |= set(mount.files)
        return names

    def materialise(
        self,
        workdir: Path,
        *,
        claims: Callable[[str], Path],
        rewrite: Callable[[str], str] = lambda v: v,
    ) -> dict[str, str]:
        """Write the mounts under ``workdir`` (a claim is the directory ``claims(name)``
        answers, which persists) and answer the environment with container paths
        replaced by the local ones."""
        local: dict[str, Path] = {}
        for mount in self.mounts:
            if mount.kind == "claim":
                target = claims(mount.claim)
                target.mkdir(parents=True, exist_ok=True)
            else:
                target = workdir / mount.volume
                if target.exists():
                    shutil.rmtree(target)
                target.mkdir(parents=True, mode=0o700)
                for name, data in mount.files.items():
                    path = target / name
                    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
                    try:
                        os.write(fd, data)
                    finally:
                        os.close(fd)
            local[mount.path.rstrip("/")] = target
        order = sorted(local, key=len, reverse=True)

        def translate(value: str) -> str:
            for path in order:
                if value == path or value.startswith(path + "/"):
                    return str(local[path]) + value[len(path) :]
            return rewrite(value)

        return {name: translate(value) for name, value in self.env.items()}


def plan(container: Mapping[str, Any], volumes: list[Any], objects: Objects) -> Plan:
    env: dict[str, str] = {}
    for index, source in enumerate(container.get("envFrom") or []):
        where = f"envFrom[{index}]"
        prefix = str(source.get("prefix") or "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key not in source:
                continue
            ref = source[key] or {}
            data = _object(objects, kind, ref, where)
            for key_name, raw in (data or {}).items():
                if _ENV_NAME.match(prefix + key_name):  # the kubelet skips invalid names
                    env[prefix + key_name] = raw.decode()
    for index, item in enumerate(container.get("env") or []):
        name = str(item.get("name") or "")
        where = f"env[{index}] ({name})"
        if "valueFrom" in item:
            value = _value_from(objects, item["valueFrom"] or {}, where)
            if value is None:
                continue  # an optional reference to something absent: not set
            env[name] = value
        else:
            env[name] = _expand(str(item.get("value", "")), env)
    by_name = {str(v.get("name")): v for v in volumes or []}
    mounts = []
    for index, vm in enumerate(container.get("volumeMounts") or []):
        name = str(vm.get("name"))
        volume = by_name.get(name)
        if volume is None:
            raise ContainerConfigError(f"volumeMounts[{index}]: no volume named {name!r}")
        mounts.append(_mount(objects, volume, str(vm.get("mountPath")), f"volume {name!r}"))
    return Plan(env, mounts)


def _object(
    objects: Objects, kind: str, ref: Mapping[str, Any], where: str
) -> Mapping[str, bytes] | None:
    name = str(ref.get("name") or "")
    data = objects.get(kind, name)
    if data is None and not ref.get("optional"):
        raise ContainerConfigError(f"{where}: {kind} {name!r} does not exist")
    return data


def _value_from(objects: Objects, source: Mapping[str, Any], where: str) -> str | None:
    for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        if key in source:
            ref = source[key] or {}
            data = _object(objects, kind, ref, where)
            wanted = str(ref.get("key") or "")
            if data is not None and wanted in data:
                return data[wanted].decode()
            if ref.get("optional"):
                return None
            raise ContainerConfigError(f"{where}: {kind} {ref.get('name')!r} has no key {wanted!r}")
    raise ContainerConfigError(
        f"{where}: only configMapKeyRef and secretKeyRef are supported locally "
        f"(got {sorted(source)})"
    )


def _expand(value: str, env: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))  # unknown references stay as written

    return _REF.sub(one, value)


def _items(
    data: Mapping[str, bytes], ref: Mapping[str, Any], kind: str, where: str
) -> dict[str, bytes]:
    items = ref.get("items")
    if not items:
        return dict(data)
    files = {}
    for item in items:
        key = str(item.get("key"))
        if key not in data:
            if ref.get("optional"):
                continue
            raise ContainerConfigError(f"{where}: {kind} {ref.get('name')!r} has no key {key!r}")
        files[str(item.get("path") or key)] = data[key]
    return files


def _mount(objects: Objects, volume: Mapping[str, Any], path: str, where: str) -> Mount:
    name = str(volume.get("name"))
    if "persistentVolumeClaim" in volume:
        claim = str((volume["persistentVolumeClaim"] or {}).get("claimName"))
        return Mount(path, "claim", name, claim=claim)
    if "emptyDir" in volume:
        return Mount(path, "empty", name)
    sources: list[tuple[str, Mapping[str, Any]]] = []
    if "secret" in volume:
        secret = dict(volume["secret"] or {})
        secret["name"] = secret.get("secretName")
        sources.append(("Secret", secret))
    elif "configMap" in volume:
        sources.append(("ConfigMap", volume["configMap"] or {}))
    elif "projected" in volume:
        for source in (volume["projected"] or {}).get("sources") or []:
            if "secret" in source:
                sources.append(("Secret", source["secret"] or {}))
            elif "configMap" in source:
                sources.append(("ConfigMap", source["configMap"] or {}))
            else:
                raise ContainerConfigError(
                    f"{where}: projected sources other than secret and "
                    f"configMap are not supported locally"
                )
    else:
        raise ContainerConfigError(f"{where}: volume type {sorted(volume)} is not supported")
    files: dict[str, bytes] = {}
    for kind, ref in sources:
        data = _object(objects, kind, ref, where)
        if data is not None:
            files.update(_items(data, ref, kind, where))
    return Mount(path, "files", name, files=files)
