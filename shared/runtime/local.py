"""The local runtime behind ``task up``: embedded services, migrations, functions.

Order matters and is kept strict: validate every setting and the data dir (creating
nothing), take the single-instance lock, then start PostgreSQL and Redis when their
URLs are unset, migrate, and start the functions. Every child dies with us (PDEATHSIG),
Ctrl-C stops them in reverse order, and the lock is a kernel ``flock`` that a crash
releases by itself, so nothing stale blocks the next start.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx

from shared.db import bootstrap
from shared.db.migrate import migrate
from shared.embedded import procs
from shared.errors import ProtostarError, SettingsError
from shared.secrets import SecretStore
from shared.settings import Settings, check_data_dir, load_settings

log = logging.getLogger("protostar.runtime")

ROOT = Path(__file__).resolve().parents[2]
EXIT_CONFIG = 2
EXIT_ALREADY_RUNNING = 3


class AlreadyRunning(ProtostarError):
    code = "already_running"


class InstanceLock:
    """An exclusive ``flock`` on ``<data>/protostar.lock``; the kernel drops it on exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def acquire(self, info: dict[str, Any]) -> None:
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                holder = json.loads(fh.read() or "{}")
            except json.JSONDecodeError:
                holder = {}
            fh.close()
            where = f" at {holder['url']}" if "url" in holder else ""
            pid = f" (pid {holder['pid']})" if "pid" in holder else ""
            raise AlreadyRunning(
                f"Protostar is already running{pid}{where} with data dir {self.path.parent}; "
                "stop it first (Ctrl-C in its terminal) or set PROTOSTAR_DATA to another dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(info))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class FunctionProcess:
    name: str
    source: Path
    target: str
    port: int
    env: dict[str, str]
    logfile: IO[bytes] | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "functions_framework",
            "--target",
            self.target,
            "--source",
            str(self.source),
            "--asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        env = {
            **self.env,
            "PORT": str(self.port),
            "K_SERVICE": self.name,
            "K_REVISION": f"{self.name}-local",
            "K_CONFIGURATION": self.name,
        }
        self.proc = procs.spawn(argv, env=env, cwd=ROOT, log=self.logfile)
        self.started_at = time.monotonic()


class LocalRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data = settings.data_dir
        self.lock = InstanceLock(self.data / "protostar.lock")
        self.postgres: Any = None
        self.redis: Any = None
        self.functions: list[FunctionProcess] = []
        self._stopping = False

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        started = time.monotonic()
        port = self.settings.protostar_port
        self.data.mkdir(parents=True, exist_ok=True)
        url = self.settings.public_base_url
        self.lock.acquire({"pid": os.getpid(), "url": url, "started": time.time()})
        if procs.port_in_use(port, self.settings.protostar_host):
            raise SettingsError(
                f"PROTOSTAR_PORT: {self.settings.protostar_host}:{port} is already in use "
                "by another program"
            )
        secrets = SecretStore(self.settings.secrets_path)
        secrets.ensure_all()
        env = self._child_env(secrets)

        self._start_functions(env)
        self._wait_ready(f"http://127.0.0.1:{port}/healthz")
        print(
            f"protostar: up in {time.monotonic() - started:.1f}s at {url} "
            f"(GET {url}/healthz; data in {self.data}; Ctrl-C stops)",
            flush=True,
        )

    def _child_env(self, secrets: SecretStore) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PROTOSTAR_DATA"] = str(self.data)
        env["SECRETS_DIR"] = str(self.settings.secrets_path)
        if not self.settings.database_url:
            from shared.embedded.postgres import EmbeddedPostgres

            self.postgres = EmbeddedPostgres(
                self.data / "postgres", password=secrets.get("postgres-superuser-password")
            )
            self.postgres.start()
            roles = bootstrap.Roles(
                owner_password=secrets.get("postgres-owner-password"),
                app_password=secrets.get("postgres-app-password"),
            )
            bootstrap.bootstrap(self.postgres.url(), roles)
            env["DATABASE_URL"] = self.postgres.url(roles.app, roles.app_password, roles.database)
            env["DATABASE_MIGRATE_URL"] = self.postgres.url(
                roles.owner, roles.owner_password, roles.database
            )
            env["DATABASE_APP_ROLE"] = roles.app
        migrate_url = env.get("DATABASE_MIGRATE_URL") or env["DATABASE_URL"]
        app_role = env.get("DATABASE_APP_ROLE", self.settings.database_app_role)
        applied = migrate(migrate_url, app_role)
        if applied:
            log.info("migrations applied", extra={"versions": applied})
        if not self.settings.redis_url:
            from shared.embedded.redis import EmbeddedRedis

            self.redis = EmbeddedRedis(self.data / "redis", password=secrets.get("redis-password"))
            self.redis.start()
            env["REDIS_URL"] = self.redis.url
        if not self.settings.object_store_url:
            (self.data / "objects").mkdir(exist_ok=True)
            env["OBJECT_STORE_URL"] = self.settings.object_store
        return env

    def _start_functions(self, env: dict[str, str]) -> None:
        # Until the manifest-driven runtime lands, the health function answers directly;
        # its JSON-line logs go to our stdout.
        fn = FunctionProcess(
            name="health",
            source=ROOT / "functions" / "health" / "main.py",
            target="health",
            port=self.settings.protostar_port,
            env=env,
        )
        fn.start()
        self.functions.append(fn)

    def _wait_ready(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                for fn in self.functions:
                    if fn.proc is not None and fn.proc.poll() is not None:
                        raise ProtostarError(
                            f"function {fn.name} exited with {fn.proc.returncode} during start"
                        )
                try:
                    client.get(url)
                    return
                except httpx.TransportError:
                    time.sleep(0.1)
        raise ProtostarError(f"no answer from {url} within {timeout:.0f}s")

    # ------------------------------------------------------------------ run / stop
    def supervise(self) -> None:
        """Restart functions that die (with backoff) until asked to stop."""
        while not self._stopping:
            now = time.monotonic()
            for fn in self.functions:
                if fn.proc is None or fn.proc.poll() is None or now < fn.next_start:
                    continue
                code = fn.proc.returncode
                fn.restarts += 1
                delay = min(30.0, 0.5 * 2 ** min(fn.restarts, 6))
                if now - fn.started_at > 60:
                    fn.restarts = 0
                log.warning(
                    "function exited; restarting",
                    extra={"fn": fn.name, "code": code, "delay_s": delay},
                )
                fn.next_start = now + delay
                fn.proc = None
            for fn in self.functions:
                if fn.proc is None and now >= fn.next_start and not self._stopping:
                    fn.start()
            time.sleep(0.25)

    def stop(self) -> None:
        self._stopping = True
        for fn in reversed(self.functions):
            if fn.proc is not None:
                procs.stop(fn.proc, signal.SIGTERM, timeout=10)
            if fn.logfile is not None:
                fn.logfile.close()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()
        self.lock.release()


def main(argv: list[str] | None = None) -> int:
    from shared.logs import configure_logging

    try:
        settings = load_settings()
        check_data_dir(settings.data_dir)
    except SettingsError as exc:
        print(f"protostar: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging("runtime", settings.log_level)
    runtime = LocalRuntime(settings)

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    try:
        runtime.start()
        runtime.supervise()
    except KeyboardInterrupt:
        print("protostar: stopping...", file=sys.stderr, flush=True)
    except AlreadyRunning as exc:
        print(f"protostar: {exc}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    except SettingsError as exc:
        print(f"protostar: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ProtostarError as exc:
        print(f"protostar: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan
        runtime.stop()
    return 0
