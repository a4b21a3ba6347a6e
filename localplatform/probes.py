"""Start one function the way its image does and send it its cheap request: the first
good answer says the function starts with its image's packages and its environment.

Used by ``python -m localplatform.images envs`` (each function in a fresh environment
made from its image's locks) and by the cold-start bench.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENT = ("POST", "/", 400)  # a request without CloudEvent attributes: refused by our parser

# The cheap route of each Service: (method, path, expected status). None of them needs
# the database, Redis or the object store.
PROBES: dict[str, tuple[str, str, int]] = {
    "audit": EVENT,
    "auth": ("GET", "/.well-known/jwks.json", 200),
    "auth-admin": ("GET", "/.well-known/jwks.json", 200),
    "bots": ("GET", "/api/bots", 401),
    "chat": ("GET", "/api/conversations", 401),
    "content": ("GET", "/api/bots/bench/documents", 401),
    "deadletter": EVENT,
    "digest": EVENT,
    "embed": EVENT,
    "embedder": ("GET", "/healthz", 200),
    "health": ("GET", "/api/openapi.json", 200),
    "insights": ("GET", "/api/bots/bench/insights", 401),
    "notify": EVENT,
    "outbox-relay": EVENT,
    "quota-reset": EVENT,
    "talent": ("GET", "/api/talent/searches", 401),
    "token-cleanup": EVENT,
    "users": ("GET", "/api/invites", 401),  # /api/users/me opens the pool before the token check
    "web": ("GET", "/widget.js", 200),
    "web-admin": ("GET", "/dashboard", 200),
}


def probe(function: str, python: Path, work: Path, timeout: float = 180) -> float:
    """Run ``functions/<function>`` with ``python``'s environment and the image's command
    (functions-framework --asgi); answer the seconds to its first good response."""
    from localplatform.embedded import procs
    from shared.secrets import SecretStore

    service = function.replace("_", "-")
    SecretStore(work / "secrets").ensure_all()
    port = procs.free_port()
    env = {
        "PATH": f"{python.parent}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),  # the image's /app: shared/, events/, web/, functions/
        "PYTHONUNBUFFERED": "1",
        "PROTOSTAR_ENV": "local",
        "SECRETS_DIR": str(work / "secrets"),
        "AUDIT_DIR": str(work / "audit"),
        "PORT": str(port),
        "K_SERVICE": service,
        "FUNCTION_TARGET": function,
    }
    argv = [
        str(python.parent / "functions-framework"),
        "--asgi",
        "--source",
        str(ROOT / "functions" / function / "main.py"),
        "--target",
        function,
        "--port",
        str(port),
    ]
    return _run_and_probe(function, argv, env, port, work, timeout)


def _run_and_probe(
    function: str, argv: list[str], env: dict[str, str], port: int, work: Path, timeout: float
) -> float:
    import httpx

    from localplatform.embedded import procs

    method, path, expected = PROBES[function.replace("_", "-")]
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "function.log", "ab") as log:
        started = time.monotonic()
        proc = procs.spawn(argv, env=env, cwd=ROOT, log=log)
    try:
        while time.monotonic() - started < timeout:
            if proc.poll() is not None:
                tail = (work / "function.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{function} exited with {proc.returncode}: {tail}")
            try:
                response = httpx.request(
                    method,
                    f"http://127.0.0.1:{port}{path}",
                    content=b"{}" if method == "POST" else None,
                    timeout=30,
                )
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            if response.status_code != expected:
                raise RuntimeError(
                    f"{function}: {method} {path} answered {response.status_code}, "
                    f"not {expected}: {response.text[:300]}"
                )
            return time.monotonic() - started
        raise RuntimeError(f"{function}: no answer in {timeout:.0f}s")
    finally:
        procs.stop(proc, signal.SIGTERM, 10.0)


def container(function: str, image: str, work: Path, timeout: float = 180) -> float:
    """Run ``image`` with podman, as a pod would (its own command, the ConfigMap's
    SECRETS_DIR with the Secret files mounted there read-only), and probe it."""
    from localplatform.embedded import procs
    from localplatform.manifests.secrets import public_key_pem
    from shared.secrets import SecretStore

    secrets = work / "secrets"
    store = SecretStore(secrets)
    store.ensure_all()
    (secrets / "jwt-public-key.pem").write_bytes(
        public_key_pem(store.get_bytes("jwt-signing-key.pem"))
    )
    # As the kubelet gives them with fsGroup 10001 and mode 0440: the function's user
    # (uid 10001) reads them; here the files are made readable for that uid.
    secrets.chmod(0o755)
    for f in secrets.iterdir():
        f.chmod(0o444)
    port = procs.free_port()
    service = function.replace("_", "-")
    argv = [
        "podman", "run", "--rm", "--runtime", "runc", "--network", "host",
        "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
        "-v", f"{secrets}:/var/run/secrets/protostar:ro",
        "-e", f"PORT={port}", "-e", f"FUNCTION_TARGET={function}", "-e", f"K_SERVICE={service}",
        "-e", "PROTOSTAR_ENV=local", "-e", "SECRETS_DIR=/var/run/secrets/protostar",
        "-e", "AUDIT_DIR=/tmp/audit", image,
    ]  # fmt: skip
    return _run_and_probe(function, argv, dict(os.environ), port, work, timeout)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "container":
        raise SystemExit("usage: python -m localplatform.probes container FUNCTION IMAGE")
    fn = sys.argv[2]
    try:
        seconds = container(fn, sys.argv[3], ROOT / ".data" / "images" / "run" / fn)
    except RuntimeError as exc:
        print(f"FAILED: {exc}".replace("\n", " ")[:300])
        raise SystemExit(1) from None
    print(f"ok: {PROBES[fn.replace('_', '-')][1]} in {seconds:.1f}s")
