"""`task up` end to end: embedded services, /healthz, single instance, clean stops."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from localplatform.embedded.procs import free_port
from tests.conftest import ROOT, workdir
from tests.support.runtime import Up

pytestmark = pytest.mark.e2e


@pytest.fixture
def data_dir() -> Path:
    return workdir("up") / "data"


def _gone(procs: list[psutil.Process], timeout: float = 15) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


def test_task_up_serves_healthz_and_refuses_a_second_instance(data_dir: Path) -> None:
    up = Up(data_dir, free_port(), via_task=True)
    try:
        report = up.wait_healthy()
        assert report["status"] == "ok"
        assert {k: v["status"] for k, v in report["checks"].items()} == {
            "postgres": "up",
            "redis": "up",
            "object_store": "up",
        }

        second = Up(data_dir, free_port())
        _out, err = second.proc.communicate(timeout=60)
        assert second.proc.returncode == 3
        assert "already running" in err
        assert str(data_dir) in err

        # The running instance is unharmed.
        assert httpx.get(up.url, timeout=5).status_code == 200
        children = up.descendants()
        assert any("postgres" in " ".join(p.cmdline()) for p in children)
        up.signal_group(signal.SIGINT)  # what Ctrl-C in a terminal does
        up.proc.wait(60)
        assert not _gone(children), "a child process outlived Ctrl-C"
    finally:
        up.close()
    secrets = data_dir / "secrets"
    assert (secrets / "jwt-signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in (secrets / "jwt-signing-key.pem").read_bytes()


def test_crash_leaves_no_stale_lock_and_data_survives(data_dir: Path) -> None:
    port = free_port()
    first = Up(data_dir, port)
    try:
        first.wait_healthy()
        children = first.descendants()
        first.proc.kill()  # SIGKILL: no cleanup code runs
        first.proc.wait()
        assert not _gone(children), "children outlived a crashed runtime"
    finally:
        first.close()
    superuser_pw = (data_dir / "secrets" / "postgres-superuser-password").read_text()
    again = Up(data_dir, port)
    try:
        report = again.wait_healthy()
        assert report["status"] == "ok"
        assert (data_dir / "secrets" / "postgres-superuser-password").read_text() == superuser_pw
    finally:
        again.close()


def test_bad_settings_stop_start_up_with_one_line_and_create_nothing(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    for name, value in [
        ("DATABASE_URL", "mysql://root:hunter2@db/x"),
        ("REDIS_URL", "redis://:hunter2@/0"),
        ("OBJECT_STORE_URL", "s3://x"),
    ]:
        up = Up(data, free_port(), extra_env={name: value})
        out, err = up.proc.communicate(timeout=60)
        assert up.proc.returncode == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(f"protostar: configuration error: {name}: ")
        assert "hunter2" not in err
        assert "hunter2" not in out
        assert not data.exists()


def test_unwritable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    up = Up(blocker / "data", free_port())
    _, err = up.proc.communicate(timeout=60)
    assert up.proc.returncode == 2
    assert err.strip().count("\n") == 0
    assert "PROTOSTAR_DATA" in err


def test_logs_are_json_lines_without_secrets(data_dir: Path) -> None:
    up = Up(data_dir, free_port())
    try:
        up.wait_healthy()
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        httpx.get(up.url, headers={"traceparent": traceparent}, timeout=5)
        time.sleep(0.5)
        up.signal_group(signal.SIGINT)
        stdout, _ = up.proc.communicate(timeout=60)
    finally:
        up.close()
    function_log = (data_dir / "logs" / "health.log").read_text()
    lines = stdout.splitlines() + function_log.splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records, stdout
    for record in records:
        assert {"time", "level", "function", "message"} <= record.keys()
    traced = [r for r in records if r.get("trace_id") == "4bf92f3577b34da6a3ce929d0e0e4736"]
    assert traced
    assert traced[0]["function"] == "health"
    for secret_file in (data_dir / "secrets").iterdir():
        secret = secret_file.read_text().strip()
        if "PRIVATE" not in secret:
            assert secret not in stdout
            assert secret not in function_log


def test_a_manifest_without_its_sink_binding_stops_start_up_naming_it(tmp_path: Path) -> None:
    """The runtime is no kinder than a cluster: with auth's binding label removed, auth
    would get no K_SINK on Knative, so `task up` refuses to start, before anything runs."""
    import shutil

    manifests = tmp_path / "knative"
    shutil.copytree(ROOT / "knative" / "base", manifests)
    auth = manifests / "services" / "auth.yaml"
    text = auth.read_text()
    assert "protostar.dev/events: sender" in text
    auth.write_text(
        "\n".join(line for line in text.splitlines() if "protostar.dev/events" not in line)
    )
    data = tmp_path / "data"
    up = Up(data, free_port(), extra_env={"PROTOSTAR_MANIFESTS": str(manifests)})
    _out, err = up.proc.communicate(timeout=60)
    assert up.proc.returncode == 1, err
    assert f"{auth}: Service auth (function auth) sends" in err
    assert "K_SINK" in err
    assert not (data / "postgres").exists()


def test_a_manifest_that_forgets_a_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    """Remove one env line (chat's DATABASE_URL) and `task up` refuses to start, naming
    the manifest, the Service, the function and the setting, before anything runs."""
    import shutil

    manifests = tmp_path / "knative"
    shutil.copytree(ROOT / "knative" / "base", manifests)
    chat = manifests / "services" / "chat.yaml"
    lines = chat.read_text().splitlines()
    start = lines.index("            - name: DATABASE_URL")
    chat.write_text("\n".join(lines[:start] + lines[start + 5 :]) + "\n")
    data = tmp_path / "data"
    up = Up(data, free_port(), extra_env={"PROTOSTAR_MANIFESTS": str(manifests)})
    _out, err = up.proc.communicate(timeout=60)
    assert up.proc.returncode == 1, err
    assert (
        f"{chat}: Service chat (functions/chat) needs DATABASE_URL, which its manifest does "
        "not give it" in err
    )
    assert not (data / "postgres").exists()


def _function_envs(up: Up) -> dict[str, dict[str, str]]:
    envs = {}
    for proc in up.descendants():
        try:
            argv = proc.cmdline()
            if "localplatform.runtime.serve" in argv:
                envs[argv[argv.index("--target") + 1]] = proc.environ()
        except psutil.Error:
            continue
    return envs


def test_a_function_process_gets_only_what_its_pod_would(data_dir: Path) -> None:
    """Nothing of the runtime's environment leaks; a user's setting reaches the functions
    through the ConfigMap or the Secret that carries it, and only where the manifest
    refers to it; the owner role's URL reaches no function."""
    up = Up(
        data_dir,
        free_port(),
        extra_env={
            "PROTOSTAR_UNRELATED": "leak",
            "QUOTA_GUEST_QUESTIONS": "4",
            "SMTP_PASSWORD": "hunter2-smtp",
            "SMTP_USERNAME": "mailer",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_FROM": "Protostar <no-reply@example.com>",
            "GEMINI_API_KEY": "AIza-local-test",
            "EMBEDDING_PROVIDER": "local",
            "ANSWER_PROVIDER": "extractive",
        },
    )
    try:
        up.wait_healthy()
        deadline = time.monotonic() + 60
        envs: dict[str, dict[str, str]] = {}
        while time.monotonic() < deadline:
            envs = _function_envs(up)
            if len(envs) >= 17:
                break
            time.sleep(0.5)
        assert {"chat", "notify", "auth", "web", "embedder"} <= set(envs)
        for target, env in envs.items():
            assert "PROTOSTAR_UNRELATED" not in env, target
            assert "DATABASE_MIGRATE_URL" not in env, target
            assert not any(k.startswith("SERVICE_URL_") for k in env), target
            assert env["QUOTA_GUEST_QUESTIONS"] == "4"  # the ConfigMap, as an operator edits it
            assert env["PROTOSTAR_ENV"] == "local"
            assert env["K_SERVICE"].removesuffix("-admin") == target.replace("_", "-")
            assert ("SMTP_PASSWORD" in env) == (target == "notify"), target
            assert ("GEMINI_API_KEY" in env) == (target in ("chat", "embed", "talent")), target
            assert ("K_SINK" in env) == (
                target
                in {
                    "auth",
                    "users",
                    "chat",
                    "content",
                    "embed",
                    "digest",
                    "outbox_relay",
                    "deadletter",
                }
            ), target
            files = (
                sorted(p.name for p in Path(env["SECRETS_DIR"]).glob("*"))
                if Path(env["SECRETS_DIR"]).is_dir()
                else []
            )
            assert ("jwt-signing-key.pem" in files) == (target in ("auth", "users")), target
        assert envs["notify"]["SMTP_PASSWORD"] == "hunter2-smtp"
        assert envs["chat"]["EMBEDDER_URL"].startswith("http://127.0.0.1:")
    finally:
        up.close()


def test_the_admin_routes_move_to_their_own_port(data_dir: Path) -> None:
    """With PROTOSTAR_ADMIN_PORT, the admin listener's routes (dashboard, owners' API)
    are served there and only there; the public port keeps what visitors use."""
    admin_port = free_port()
    up = Up(
        data_dir,
        free_port(),
        extra_env={"PROTOSTAR_ADMIN_PORT": str(admin_port), "PROTOSTAR_DEMO": "false"},
    )
    try:
        up.wait_healthy()
        public = f"http://127.0.0.1:{up.port}"
        admin = f"http://127.0.0.1:{admin_port}"
        up.wait_state()  # written once everything is up, the admin ingress too
        with httpx.Client(timeout=30) as client:
            assert client.get(f"{admin}/dashboard").status_code == 200
            assert client.get(f"{public}/dashboard").status_code == 404
            assert client.get(f"{public}/widget.js").status_code == 200
            assert client.get(f"{admin}/api/bots").status_code == 401  # bots, no token
            assert client.get(f"{public}/api/bots").status_code == 404
            assert client.get(f"{public}/api/bots/x/insights").status_code == 404
            for base in (public, admin):  # auth on the public side, auth-admin here
                assert client.get(f"{base}/.well-known/jwks.json").status_code == 200
            # With the demo off, the public home page sends owners to the admin host.
            home = client.get(f"{public}/", follow_redirects=False)
            assert home.status_code == 302
            assert home.headers["location"] == f"{admin}/dashboard"
        # Served by the admin side's own Services (each function logs its requests).
        logs = data_dir / "logs"
        assert '"path": "/.well-known/jwks.json"' in (logs / "auth-admin.log").read_text()
        assert '"path": "/dashboard"' in (logs / "web-admin.log").read_text()
        assert '"path": "/dashboard"' not in (logs / "web.log").read_text()
    finally:
        up.close()
