"""What a pod gets on a cluster, made locally: the namespace's ConfigMaps and Secrets,
the image's environment, cluster DNS, and the environment of each container.

A function process gets exactly: the image's environment (``IMAGE_ENV``: the Dockerfile's
``ENV`` and the base image's locale and ``PATH``), what its manifest's ``env``,
``envFrom`` and volumes resolve to, and what Knative adds (``PORT``, ``K_SERVICE``,
``K_REVISION``, ``K_CONFIGURATION``; ``K_SINK`` only through a SinkBinding). Nothing of
the runtime's own environment leaks through.

Local values: the ConfigMap ``protostar-config`` is the committed one with the local
run's values laid over it (``PROTOSTAR_ENV=local``, the demo, ``PUBLIC_URL``, the
object store) and every non-secret setting the user set in their environment, as an
operator would edit the ConfigMap; the Secrets are made from the data directory's
secret files, the embedded services' URLs and the secret settings the user set
(``GEMINI_API_KEY``, ...). A setting reaches a function only if its manifest refers to
the key that carries it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from localplatform.manifests.secrets import SECRET_SETTINGS, local_secrets
from localplatform.runtime.environment import ContainerConfigError, Objects, plan
from localplatform.runtime.topology import JobSpec, ServiceSpec, TopologyError
from shared.secrets import SecretStore
from shared.settings import Settings

CONFIG = "protostar-config"
# Settings of the local runtime itself (its port, data dir, broker backend, ...): they
# configure `task up`, not a function, and no manifest carries them.
RUNTIME_SETTINGS = frozenset(
    {
        "PROTOSTAR_HOST",
        "PROTOSTAR_PORT",
        "PROTOSTAR_ADMIN_PORT",
        "PROTOSTAR_DATA",
        "PROTOSTAR_MANIFESTS",
        "PROTOSTAR_SCALE_TO_ZERO",
        "BROKER_BACKEND",
        "RABBITMQ_URL",
        "BROKER_URL",
        "SECRETS_DIR",
    }
)
# Where the image puts things (the Dockerfile's ENV and the python base image's); taken
# from this process where the image would have its own.
IMAGE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "HOME")


def image_env(root: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in IMAGE_ENV if k in os.environ}
    env.update({"PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"})
    return env


def user_settings(settings: Settings) -> dict[str, str]:
    """The settings the user set in the environment, by their variable names."""
    names = {name.upper() for name in settings.model_fields_set}
    return {k: os.environ[k] for k in os.environ if k.upper() in names}


def local_objects(
    settings: Settings,
    *,
    configmaps: Mapping[str, Mapping[str, str]],
    secrets: SecretStore,
    urls: Mapping[str, str],
    local: Mapping[str, str],
) -> Objects:
    """The namespace's ConfigMaps and Secrets for a local run (see the module doc)."""
    supplied = {
        k.upper(): v
        for k, v in user_settings(settings).items()
        if k.upper() not in RUNTIME_SETTINGS
    }
    local_configmaps = dict(configmaps)
    if CONFIG in configmaps:  # as missing as on a cluster when the manifests lack it
        local_configmaps[CONFIG] = {
            **configmaps[CONFIG],
            **local,
            **{k: v for k, v in supplied.items() if k not in SECRET_SETTINGS},
        }
    files = {
        name: secrets.get_bytes(name)
        for name in ("jwt-signing-key.pem", "object-store-signing-key")
    }
    made = local_secrets(
        files=files,
        urls=urls,
        supplied={k: v for k, v in supplied.items() if k in SECRET_SETTINGS},
    )
    return Objects(configmaps=local_configmaps, secrets=made)


def cluster_dns(namespace: str, addresses: Mapping[str, str]) -> Callable[[str], str]:
    """Rewrite ``http://<service>.<namespace>.svc.cluster.local`` (and its shorter forms)
    in a value to the local address of that Service, as cluster DNS would resolve it."""
    suffixes = ("", f".{namespace}", f".{namespace}.svc", f".{namespace}.svc.cluster.local")

    def rewrite(value: str) -> str:
        if not value.startswith(("http://", "https://")):
            return value
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            return value
        host = parts.hostname or ""
        for name, address in addresses.items():
            if any(host == name + s for s in suffixes) and port in (None, 80):
                rest = value[len(f"{parts.scheme}://{parts.netloc}") :]
                return address.rstrip("/") + rest
        return value

    return rewrite


def container_env(
    what: ServiceSpec | JobSpec,
    objects: Objects,
    *,
    data: Path,
    claims: Mapping[str, Path],
    rewrite: Callable[[str], str],
) -> dict[str, str]:
    """The environment of ``what``'s container, its mounts written under
    ``<data>/run/<name>``. A PersistentVolumeClaim is bound to the directory ``claims``
    names for it (the audit log's is ``AUDIT_DIR``), else ``<data>/volumes/<claim>``."""
    kind = "Service" if isinstance(what, ServiceSpec) else "Job"
    try:
        planned = plan(what.container, list(what.volumes), objects)
    except ContainerConfigError as exc:
        raise TopologyError(f"{_display(what.manifest)}: {kind} {what.name}: {exc}") from None
    return planned.materialise(
        data / "run" / what.name,
        claims=lambda claim: claims.get(claim, data / "volumes" / claim),
        rewrite=rewrite,
    )


def run_job(job: JobSpec, env: Mapping[str, str], *, root: Path, logdir: Path) -> None:
    """Run a Job's container command to completion (``python`` is this interpreter)."""
    argv = list(job.command)
    if re.fullmatch(r"python[0-9.]*", Path(argv[0]).name):
        argv[0] = sys.executable
    elif shutil.which(argv[0], path=env.get("PATH")) is None:
        raise TopologyError(f"{_display(job.manifest)}: Job {job.name}: {argv[0]} not found")
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"job-{job.name}.log"
    with open(log, "ab") as out:
        done = subprocess.run(
            argv,
            cwd=root,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise TopologyError(
            f"{_display(job.manifest)}: Job {job.name} failed (exit {done.returncode}): "
            + " | ".join(tail)
        )


def _display(path: str) -> str:
    from localplatform.manifests.validate import display_path

    return display_path(Path(path)) if path else "manifests"
