"""The admin side while the public side is flooded: is the owner locked out?

The whole system (``task up`` on knative/base) with ``PROTOSTAR_ADMIN_PORT``: the admin
routes on a port of their own, served by their own Services (auth-admin, web-admin,
users, bots, ...). The probe is an owner's read on the admin port
(``GET /api/users/me``: token check, one database read), one at a time. Its p95 idle is
the baseline. Then the public side is flooded at 4x the web Service's
containerConcurrency (``GET /widget.js`` from as many clients), and the same probe is
measured again, beside the flood's own rate.

On one machine the flood and the probe share the CPU and the runtime's single ingress
process (on a cluster the Gateway and each Service's pods are apart), so this figure is
a floor of the isolation, not its measure on a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROBES = 300


def _env(data: Path, port: int, admin_port: int) -> dict[str, str]:
    from shared.settings import Settings

    names = {n.upper() for n in Settings.model_fields} | {"K_SINK", "BROKER_URL"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(
        {
            "PROTOSTAR_DATA": str(data),
            "PROTOSTAR_PORT": str(port),
            "PROTOSTAR_ADMIN_PORT": str(admin_port),
            "PROTOSTAR_DEMO": "false",
            "LOG_LEVEL": "WARNING",
            "ARGON2_MEMORY_KIB": "19456",
        }
    )
    return env


async def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the runtime exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.3)
    raise RuntimeError("the runtime did not become healthy")


async def _probe(session: Any, url: str, headers: dict[str, str], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"admin probe answered {response.status}")
        times.append((time.perf_counter() - started) * 1000)
    return times


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


async def run(quick: bool, work: Path) -> dict[str, Any]:
    import aiohttp

    from localplatform.embedded.procs import free_port
    from localplatform.manifests.load import load_manifests
    from localplatform.runtime.topology import build_topology

    web = build_topology(load_manifests(ROOT / "knative" / "base")).services["web"]
    flood_clients = 4 * web.container_concurrency
    probes = 100 if quick else PROBES
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    port, admin_port = free_port(), free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
        [sys.executable, "-m", "localplatform.runtime", "--status", "off"],
        cwd=ROOT,
        env=_env(work / "data", port, admin_port),
        stdout=subprocess.DEVNULL,
        stderr=open(work / "runtime.log", "wb"),  # noqa: SIM115, ASYNC230
        start_new_session=True,
    )
    public = f"http://127.0.0.1:{port}"
    admin = f"http://127.0.0.1:{admin_port}"
    try:
        await _wait(f"{admin}/healthz", proc)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.post(
                f"{admin}/api/auth/signup",
                json={
                    "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
                    "password": "a long bench password 1",
                },
            ) as response:
                token = (await response.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            me = f"{admin}/api/users/me"
            await _probe(session, me, headers, 30)  # warm: processes, pools
            async with session.get(f"{public}/widget.js") as response:
                await response.read()
            idle = await _probe(session, me, headers, probes)

            stop = asyncio.Event()
            served = 0

            async def flood() -> None:
                nonlocal served
                while not stop.is_set():
                    try:
                        async with session.get(f"{public}/widget.js") as response:
                            await response.read()
                            served += 1
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.01)

            # The users process itself, past the runtime's ingress: tells the ingress's
            # share of the delay from the CPU's.
            import json

            state = json.loads((work / "data" / "runtime.json").read_text())
            direct = f"http://127.0.0.1:{state['services']['users']['port']}/api/users/me"
            idle_direct = await _probe(session, direct, headers, probes)
            workers = [asyncio.create_task(flood()) for _ in range(flood_clients)]
            await asyncio.sleep(3)  # the flood at full strength
            started, before = time.perf_counter(), served
            flooded = await _probe(session, me, headers, probes)
            rate = (served - before) / (time.perf_counter() - started)
            flooded_direct = await _probe(session, direct, headers, probes)
            stop.set()
            await asyncio.gather(*workers, return_exceptions=True)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    base95 = _pct(idle, 95)
    rows = [
        {"name": "admin GET /api/users/me, public side idle", "probes": len(idle),
         "p50_ms": round(statistics.median(idle), 2), "p95_ms": base95},
        {"name": f"admin GET /api/users/me, public flooded ({flood_clients} clients)",
         "probes": len(flooded), "p50_ms": round(statistics.median(flooded), 2),
         "p95_ms": _pct(flooded, 95), "p95_vs_idle": round(_pct(flooded, 95) / base95, 2),
         "flood_per_s": round(rate, 1)},
        {"name": "the users process directly (past the ingress), public side idle",
         "probes": len(idle_direct), "p50_ms": round(statistics.median(idle_direct), 2),
         "p95_ms": _pct(idle_direct, 95)},
        {"name": "the users process directly, public flooded", "probes": len(flooded_direct),
         "p50_ms": round(statistics.median(flooded_direct), 2),
         "p95_ms": _pct(flooded_direct, 95),
         "p95_vs_idle": round(_pct(flooded_direct, 95) / _pct(idle_direct, 95), 2)},
    ]  # fmt: skip
    return {
        "figure": "the admin API while the public side is flooded (own port, own Services)",
        "baseline": "the same probe with the public side idle",
        "aim": "flooded p95 within 2x of idle",
        "rows": rows,
    }
