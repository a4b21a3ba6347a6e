"""A Service's port is the runtime's from the start: nothing else can take it while the
Service is scaled to zero, and the Service is ready when its own process says so.

A CI run once saw ``POST /api/bots`` answered by an event consumer ("not a CloudEvent"):
two Services had been handed the same port by ``free_port()``, the second process failed
to bind it, and "the port accepts connections" (the first one's) was taken for its
readiness.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import httpx
import pytest

from localplatform.runtime.services import ServiceProcess
from localplatform.runtime.topology import ServiceSpec
from shared.errors import ServiceUnavailable

ROOT = Path(__file__).resolve().parents[2]


def _spec(function: str = "health", target: str = "health") -> ServiceSpec:
    return ServiceSpec(
        name=function, function=function, target=target, signature_type="http", env={}
    )


def _env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}


def _bind(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


async def test_the_port_stays_the_services_across_scale_to_zero(tmp_path: Path) -> None:
    svc = ServiceProcess(_spec(), root=ROOT, env=_env(), logdir=tmp_path, scale_to_zero=True)
    try:
        for _ in range(2):  # started, scaled to zero, started again on the same port
            with pytest.raises(OSError, match="in use") as taken:
                _bind(svc.port)
            assert taken.value.errno == errno.EADDRINUSE
            await svc.ensure_running()
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"{svc.url}/api/openapi.json")
            assert reply.status_code == 200
            assert reply.json()["openapi"].startswith("3.")
            await svc.stop("test")
            assert svc.state == "scaled-to-zero"
    finally:
        await svc.stop("test")
        svc.close()


async def test_two_services_never_share_a_port(tmp_path: Path) -> None:
    services = [
        ServiceProcess(_spec(), root=ROOT, env=_env(), logdir=tmp_path / str(i)) for i in range(64)
    ]
    try:
        assert len({svc.port for svc in services}) == len(services)
    finally:
        for svc in services:
            svc.close()


async def test_a_process_that_dies_while_starting_is_not_ready(tmp_path: Path) -> None:
    """Readiness is the process's word, not a connection to the (already listening)
    socket: a function that fails to import never becomes ready."""
    spec = _spec(target="no_such_target")
    svc = ServiceProcess(spec, root=ROOT, env=_env(), logdir=tmp_path)
    try:
        with pytest.raises(ServiceUnavailable, match="exited with"):
            await svc.ensure_running(timeout=60)
        assert not svc.ready.is_set()
    finally:
        await svc.stop("test")
        svc.close()
