"""Cold start (process start to the first good response) and idle RSS of every
function in knative/base, beside a bare functions-framework hello function.

Every Service of knative/base/services is started the way the local runtime starts it
(localplatform/runtime/services.py): ``python -m localplatform.runtime.serve --target ... --source
functions/<name>/main.py --signature-type http --port P`` with the manifest's env,
``PORT`` and ``K_SERVICE``, in its own session. The clock runs from ``Popen`` to the
first response with the expected status on a cheap route, polled every 5 ms: a route
that runs the function's own code (its router, token check or event parsing) but no
database, Redis or object-store call, so the figure is the process's own start:
interpreter, imports, ``create_asgi_app``, uvicorn. The embedder is the exception:
its cheap route is ``GET /healthz``, which loads the model, because that is the only
start it has (it is the ML function; the others never import torch).

Idle RSS: resident memory of the process (and any children) 0.5 s after that first
response, with psutil. The baseline is a hello function (``functions_framework.aio``
decorator, a Starlette response) served the same way, in the same rounds: every round
starts hello and then each function in turn, so the machine's load weighs on all.

Settings: a throw-away data directory and secrets (``PROTOSTAR_ENV=local`` creates
the JWT key there on the first need); no DATABASE_URL or REDIS_URL is given, which the
probes never need (everything connects on first use).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localplatform.probes import PROBES  # the cheap route of each Service

ROOT = Path(__file__).resolve().parents[1]
HELLO = "hello (bare functions-framework)"
ML = {"embedder"}

_HELLO_SOURCE = """\
import functions_framework.aio
from starlette.responses import PlainTextResponse


@functions_framework.aio.http
async def hello(request):
    return PlainTextResponse("hello")
"""


@dataclass
class Start:
    ms: float
    rss_mb: float
    status: int


def services() -> list[tuple[str, str, Path, dict[str, str]]]:
    """(name, target, source, env) of every Service in knative/base."""
    from localplatform.manifests.load import load_manifests
    from localplatform.runtime.topology import build_topology

    topo = build_topology(load_manifests(ROOT / "knative" / "base"))
    return [
        (spec.name, spec.target, spec.source(ROOT), dict(spec.env))
        for spec in sorted(topo.services.values(), key=lambda s: s.name)
    ]


async def _first_response(
    port: int, method: str, path: str, proc: Any, timeout: float
) -> tuple[int, float]:
    import httpx

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        while time.monotonic() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before answering")
            try:
                response = await client.request(
                    method, path, content=b"{}" if method == "POST" else None
                )
                return response.status_code, time.perf_counter()
            except httpx.TransportError:
                await asyncio.sleep(0.005)
    raise RuntimeError(f"no response in {timeout:.0f}s")


def _rss_mb(pid: int) -> float:
    import psutil

    parent = psutil.Process(pid)
    procs = [parent, *parent.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20


async def start_once(
    name: str,
    target: str,
    source: Path,
    env: dict[str, str],
    probe: tuple[str, str, int],
    base_env: dict[str, str],
    log: Path,
) -> Start:
    from localplatform.embedded import procs

    port = procs.free_port()
    argv = [
        sys.executable,
        "-m",
        "localplatform.runtime.serve",
        "--target",
        target,
        "--source",
        str(source),
        "--signature-type",
        "http",
        "--port",
        str(port),
    ]
    full_env = {
        **base_env,
        **env,
        "PORT": str(port),
        "K_SERVICE": name,
        "K_REVISION": f"{name}-00001",
        "K_CONFIGURATION": name,
    }
    with open(log, "ab") as out:  # noqa: ASYNC230 - the child writes to it
        started = time.perf_counter()
        proc = procs.spawn(argv, env=full_env, cwd=ROOT, log=out)
    try:
        status, answered = await _first_response(port, probe[0], probe[1], proc, 180)
        if status != probe[2]:
            raise RuntimeError(f"{name}: {probe[0]} {probe[1]} answered {status}, not {probe[2]}")
        await asyncio.sleep(0.5)
        return Start((answered - started) * 1000, _rss_mb(proc.pid), status)
    finally:
        await asyncio.to_thread(procs.stop, proc, signal.SIGTERM, 10.0)


async def run(quick: bool, work: Path) -> dict[str, Any]:
    rounds = 1 if quick else 3
    hello = work / "hello" / "main.py"
    hello.parent.mkdir(parents=True, exist_ok=True)
    hello.write_text(_HELLO_SOURCE)
    data = work / "data"
    from shared.secrets import SecretStore

    SecretStore(data / "secrets").ensure_all()  # as the runtime makes them; functions read
    base_env = {
        **os.environ,
        "PROTOSTAR_ENV": "local",
        "PROTOSTAR_DATA": str(data),
        "SECRETS_DIR": str(data / "secrets"),
        "AUDIT_DIR": str(data / "audit"),
    }
    listed = services()
    missing = sorted({n for n, *_ in listed} - set(PROBES))
    if missing:
        raise RuntimeError(f"no cheap route defined for {missing}: add it to PROBES")
    contenders: list[tuple[str, str, Path, dict[str, str], tuple[str, str, int]]] = [
        (HELLO, "hello", hello, {}, ("GET", "/", 200))
    ] + [(name, target, source, env, PROBES[name]) for name, target, source, env in listed]
    log = work / "functions.log"
    # Warm-up: one start of hello (the page cache holds the interpreter and libraries).
    await start_once("hello", "hello", hello, {}, ("GET", "/", 200), base_env, log)
    starts: dict[str, list[Start]] = {c[0]: [] for c in contenders}
    for _round in range(rounds):
        for name, target, source, env, probe in contenders:
            starts[name].append(await start_once(name, target, source, env, probe, base_env, log))
    base_ms = statistics.median(s.ms for s in starts[HELLO])
    base_rss = statistics.median(s.rss_mb for s in starts[HELLO])
    rows: list[dict[str, Any]] = []
    for name, _target, _source, _env, probe in contenders:
        ms = [s.ms for s in starts[name]]
        rss = [s.rss_mb for s in starts[name]]
        row: dict[str, Any] = {
            "name": name,
            "probe": f"{probe[0]} {probe[1]} -> {probe[2]}",
            "starts": len(ms),
            "cold_start_ms": round(statistics.median(ms), 1),
            "cold_start_ms_min": round(min(ms), 1),
            "cold_start_ms_max": round(max(ms), 1),
            "idle_rss_mb": round(statistics.median(rss), 1),
            "idle_rss_mb_max": round(max(rss), 1),
        }
        if name != HELLO:
            row["start_vs_hello"] = round(row["cold_start_ms"] / base_ms, 2)
            row["rss_vs_hello"] = round(row["idle_rss_mb"] / base_rss, 2)
            row["ml"] = name in ML
        rows.append(row)
    return {
        "figure": "cold start (process start to first good response) and idle RSS per function",
        "baseline": HELLO,
        "aim": "within 1.3x of hello; < 90 MB idle for non-ML functions (embedder is ML)",
        "rows": rows,
    }
