"""Run the local runtime (``task up``) as a real process in tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import ROOT


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any Protostar setting (other tests put theirs
    into os.environ), plus ``extra``: what a fresh terminal would pass to ``task up``."""
    from shared.settings import Settings

    names = {name.upper() for name in Settings.model_fields}
    names |= {"K_SINK", "BROKER_URL", "EMBEDDER_URL"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(extra or {})
    return env


class Up:
    def __init__(
        self,
        data: Path,
        port: int,
        *,
        via_task: bool = False,
        extra_env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.data = data
        env = clean_env(
            {"PROTOSTAR_DATA": str(data), "PROTOSTAR_PORT": str(port), **(extra_env or {})}
        )
        argv = (
            [str(ROOT / "scripts" / "task"), "up"]
            if via_task
            else [sys.executable, "-m", "localplatform.runtime", *(args or [])]
        )
        self.port = port
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def wait_healthy(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                _out, err = self.proc.communicate()
                pytest.fail(f"runtime exited {self.proc.returncode}: {err[-2000:]}")
            try:
                response = httpx.get(self.url, timeout=2)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail("runtime never answered /healthz with 200")

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def signal_group(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.signal_group(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.proc.wait()
        self.proc.communicate()

    def state(self) -> dict[str, Any]:
        return json.loads((self.data / "runtime.json").read_text())

    def wait_state(self, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                _, err = self.proc.communicate()
                pytest.fail(f"runtime exited {self.proc.returncode}: {err[-2000:]}")
            try:
                return self.state()
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.1)
        pytest.fail("runtime never wrote runtime.json")
