"""One Knative Service as a local functions-framework process, with an activator in
front: requests wait while the process (re)starts, ``containerConcurrency`` is enforced,
and with scale-to-zero the process starts on its first request and stops when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from localplatform.embedded import procs
from localplatform.runtime.topology import ServiceSpec
from shared.errors import ServiceUnavailable

log = logging.getLogger("protostar.runtime")


class ServiceProcess:
    def __init__(
        self,
        spec: ServiceSpec,
        *,
        root: Path,
        env: Mapping[str, str],
        logdir: Path,
        scale_to_zero: bool = False,
    ) -> None:
        self.spec = spec
        self.root = root
        self.base_env = dict(env)
        self.logdir = logdir
        self.scale_to_zero = scale_to_zero and spec.min_scale == 0
        # The runtime binds the Service's socket and holds it for the Service's life; each
        # process it starts serves that socket (serve --fd). A port merely found free
        # (procs.free_port) could be bound by another Service's process first, and then
        # that process would answer this Service's requests.
        self._socket = procs.listening_socket()
        self.port: int = self._socket.getsockname()[1]  # where the process listens
        self.activator_port = 0  # where others reach it (set by the runtime)
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._log: IO[bytes] | None = None
        self.in_flight = 0
        self.requests = 0
        self.last_used = time.monotonic()
        self.cold_starts: list[float] = []
        self.restarts = 0
        self.desired = False
        self.limit = asyncio.Semaphore(spec.container_concurrency or 1000)

    def touch(self) -> None:
        self.last_used = time.monotonic()

    @property
    def address(self) -> str:
        """The Service's address for Triggers and PingSources (through the activator)."""
        return f"http://127.0.0.1:{self.activator_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> str:
        if self.proc is None:
            return "scaled-to-zero" if self.scale_to_zero else "stopped"
        if self.proc.poll() is not None:
            return "crashed"
        return "ready" if self.ready.is_set() else "starting"

    def _env(self) -> dict[str, str]:
        env = dict(self.base_env)  # the image's and the manifest's (runtime.pods)
        env.update(
            {
                "PORT": str(self.port),
                "K_SERVICE": self.spec.name,
                "K_REVISION": f"{self.spec.name}-00001",
                "K_CONFIGURATION": self.spec.name,
                "FUNCTION_TARGET": self.spec.target,
                "FUNCTION_SIGNATURE_TYPE": self.spec.signature_type,
            }
        )
        return env

    async def ensure_running(self, timeout: float = 60.0) -> None:
        """Start the process if needed and wait until it accepts connections."""
        self.last_used = time.monotonic()
        if self.ready.is_set() and self.proc is not None and self.proc.poll() is None:
            return
        async with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                await self._start()
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            raise ServiceUnavailable(f"service {self.spec.name} did not start in time") from None

    async def _start(self) -> None:
        self.desired = True
        self.ready.clear()
        if self._log is None:
            self.logdir.mkdir(parents=True, exist_ok=True)
            self._log = open(self.logdir / f"{self.spec.name}.log", "ab")  # noqa: SIM115, ASYNC230
        argv = [
            sys.executable,
            "-m",
            "localplatform.runtime.serve",
            "--target",
            self.spec.target,
            "--source",
            str(self.spec.source(self.root)),
            "--signature-type",
            self.spec.signature_type,
            "--port",
            str(self.port),
            "--fd",
            str(self._socket.fileno()),
        ]
        started = time.perf_counter()
        ready_r, ready_w = os.pipe()
        try:
            argv += ["--ready-fd", str(ready_w)]
            self.proc = procs.spawn(
                argv,
                env=self._env(),
                cwd=self.root,
                log=self._log,
                pass_fds=(self._socket.fileno(), ready_w),
            )
        finally:
            os.close(ready_w)
        os.set_blocking(ready_r, False)
        try:
            await self._wait_ready(self.proc, ready_r, started)
        finally:
            os.close(ready_r)

    async def _wait_ready(self, proc: subprocess.Popen[bytes], ready: int, started: float) -> None:
        """Wait for the process's byte on ``ready`` (it imported the function and serves).

        The socket is the runtime's and listens already, so a connection succeeding
        would say nothing about the process.
        """
        while proc.poll() is None:
            try:
                signalled = os.read(ready, 1) == b"r"
            except BlockingIOError:
                signalled = False
            if signalled:
                elapsed = (time.perf_counter() - started) * 1000
                self.cold_starts.append(elapsed)
                self.ready.set()
                log.info(
                    "cold start",
                    extra={
                        "service": self.spec.name,
                        "cold_start_ms": round(elapsed, 1),
                        "pid": proc.pid,
                    },
                )
                return
            await asyncio.sleep(0.02)
        raise ServiceUnavailable(
            f"service {self.spec.name} exited with {proc.returncode} while starting; "
            f"see {self.logdir / (self.spec.name + '.log')}"
        )

    async def stop(self, reason: str = "stop") -> None:
        async with self._lock:
            self.desired = False
            self.ready.clear()
            if self.proc is not None:
                proc, self.proc = self.proc, None
                await asyncio.to_thread(procs.stop, proc, signal.SIGTERM, 10.0)
                log.info("service stopped", extra={"service": self.spec.name, "reason": reason})

    async def supervise(self) -> None:
        """Restart after crashes (with backoff); scale to zero when idle."""
        backoff = 0.5
        while True:
            await asyncio.sleep(0.25)
            proc = self.proc
            if proc is not None and proc.poll() is not None and self.desired:
                self.restarts += 1
                log.warning(
                    "service exited; restarting",
                    extra={"service": self.spec.name, "code": proc.returncode, "delay_s": backoff},
                )
                self.ready.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                with contextlib.suppress(ServiceUnavailable):
                    async with self._lock:
                        if self.desired and (self.proc is None or self.proc.poll() is not None):
                            await self._start()
                continue
            if proc is not None and proc.poll() is None and self.ready.is_set():
                backoff = 0.5
            idle = time.monotonic() - self.last_used
            if (
                self.scale_to_zero
                and self.proc is not None
                and self.in_flight == 0
                and idle >= self.spec.idle_seconds
            ):
                await self.stop(reason=f"idle {idle:.0f}s (scale to zero)")

    def close(self) -> None:
        """Release the socket and the log (the process is stopped already)."""
        self._socket.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def summary(self) -> dict[str, Any]:
        rss = 0
        if self.proc is not None and self.proc.poll() is None:
            rss = _rss(self.proc.pid)
        return {
            "state": self.state,
            "port": self.port,
            "requests": self.requests,
            "in_flight": self.in_flight,
            "restarts": self.restarts,
            "cold_starts": len(self.cold_starts),
            "last_cold_start_ms": round(self.cold_starts[-1], 1) if self.cold_starts else None,
            "rss_mb": round(rss / 2**20, 1) if rss else None,
        }


def _rss(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn runs a worker)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
    except psutil.Error:
        return 0
