"""Settings: every bad URL or data dir gives one line naming the setting, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import SettingsError
from shared.settings import check_data_dir, load_settings, redact_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from this process's environment (other tests set some) reaches these."""
    from shared.settings import Settings

    for name in [
        *(n.upper() for n in Settings.model_fields),
        "K_SINK",
        "BROKER_URL",
        "EMBEDDER_URL",
    ]:
        monkeypatch.delenv(name, raising=False)


def test_defaults_use_embedded_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROTOSTAR_DATA", str(tmp_path / "d"))
    s = load_settings()
    assert s.protostar_port == 8080
    assert s.database_url is None
    assert s.redis_url is None
    assert s.object_store == (tmp_path / "d" / "objects").as_uri()
    assert s.secrets_path == tmp_path / "d" / "secrets"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROTOSTAR_PORT", "9099")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@db.internal:5432/protostar")
    monkeypatch.setenv("OBJECT_STORE_URL", "s3://career-docs/prod")
    s = load_settings()
    assert s.protostar_port == 9099
    assert s.migrate_url == "postgresql://app:pw@db.internal:5432/protostar"
    assert s.object_store == "s3://career-docs/prod"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://u:hunter2@h/db", "scheme must be postgresql://"),
        ("DATABASE_URL", "postgresql://u:hunter2@/db", "has no host"),
        ("DATABASE_URL", "postgresql://u:hunter2@host:5432", "names no database"),
        ("DATABASE_URL", "postgresql://u:hunter2@host:99999/db", "not a valid URL"),
        ("DATABASE_URL", "postgresql://u:hunter2@ho st/db", "whitespace"),
        ("DATABASE_MIGRATE_URL", "http://u:hunter2@h/db", "scheme must be postgresql://"),
        ("REDIS_URL", "http://:hunter2@localhost:6379", "scheme must be redis://"),
        ("REDIS_URL", "redis://:hunter2@localhost:6379/abc", "database must be a number"),
        ("REDIS_URL", "redis://:hunter2@:6379/0", "has no host"),
        ("RABBITMQ_URL", "amqp://guest:hunter2@/", "has no host"),
        ("OBJECT_STORE_URL", "ftp://u:hunter2@files/x", "scheme must be file://"),
        ("OBJECT_STORE_URL", "s3://a/prefix", "not a valid S3 bucket name"),
        ("OBJECT_STORE_URL", "file://relative/path", "absolute path"),
        ("PROTOSTAR_PORT", "http", "PROTOSTAR_PORT"),
        ("PROTOSTAR_PORT", "70000", "less than or equal to 65535"),
    ],
)
def test_malformed_setting_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith(f"{name}: ")
    assert expected in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_redact_url_hides_password() -> None:
    assert redact_url("postgresql://app:s3cr3t@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_data_dir_under_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match=r"^PROTOSTAR_DATA: .* is not a directory"):
        check_data_dir(blocker / "data")
    assert not (blocker.parent / "data").exists()


def test_data_dir_on_read_only_filesystem_is_refused() -> None:
    # /proc refuses file creation even to root.
    with pytest.raises(SettingsError, match=r"^PROTOSTAR_DATA: cannot write to /proc"):
        check_data_dir(Path("/proc/protostar-data"))


def test_data_dir_that_can_be_made_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    check_data_dir(target)
    assert list(tmp_path.iterdir()) == []


def test_every_setting_is_documented_in_the_readme() -> None:
    from shared.settings import Settings
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == []


def test_the_dashboards_url_is_admin_url_then_the_admin_port_then_the_public_url() -> None:
    assert load_settings(protostar_port=9000).admin_base_url == "http://127.0.0.1:9000"
    split = load_settings(protostar_port=9000, protostar_admin_port=9001)
    assert split.admin_base_url == "http://127.0.0.1:9001"
    assert split.public_base_url == "http://127.0.0.1:9000"
    given = load_settings(protostar_admin_port=9001, admin_url="https://admin.example.com/")
    assert given.admin_base_url == "https://admin.example.com"
    with pytest.raises(SettingsError, match="ADMIN_URL"):
        load_settings(admin_url="ftp://admin.example.com")
