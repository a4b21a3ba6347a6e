"""One settings object, built from the environment.

Every setting a user can change is a field here and a row in the README. Nothing else
in the code base reads ``os.environ`` for configuration.

Unset service URLs (``DATABASE_URL``, ``REDIS_URL``, ``OBJECT_STORE_URL``) mean "use the
embedded default": the local runtime starts PostgreSQL and Redis from wheels and keeps
objects under the data directory.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import SettingsError
from shared.notify.discord import is_webhook_url

_PG_SCHEMES = ("postgresql", "postgres")
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_AMQP_SCHEMES = ("amqp", "amqps")
_STORE_SCHEMES = ("file", "s3")


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def _split(url: str, schemes: tuple[str, ...], example: str) -> SplitResult:
    if any(ch.isspace() for ch in url):
        raise ValueError(f"must not contain whitespace; expected {example}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit only validates the port when it is read
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc}); expected {example}") from None
    if parts.scheme not in schemes:
        got = parts.scheme or "none"
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ValueError(f"scheme must be {allowed} (got {got!r}); expected {example}")
    return parts


def _check_database_url(url: str) -> str:
    example = "postgresql://user:password@host:5432/dbname"
    parts = _split(url, _PG_SCHEMES, example)
    if not parts.hostname:
        raise ValueError(f"has no host; expected {example}")
    if not parts.path.strip("/"):
        raise ValueError(f"names no database; expected {example}")
    return url


class Settings(BaseSettings):
    """Protostar's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # Local runtime -----------------------------------------------------------------
    protostar_host: str = Field("127.0.0.1", description="Address the local ingress binds to")
    protostar_port: int = Field(8080, ge=1, le=65535, description="Port of the local ingress")
    protostar_admin_port: int | None = Field(
        None, ge=1, le=65535, description="A second local port for the admin routes alone"
    )
    protostar_data: Path = Field(Path(".data"), description="Data directory of the local runtime")
    protostar_env: Literal["local", "production"] = Field(
        "local", description="'production' refuses to generate secrets or start embedded services"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    protostar_manifests: Path = Field(
        Path("knative/base"), description="Kustomization the local runtime runs"
    )
    protostar_scale_to_zero: bool = Field(
        False, description="Start Services on first request and stop them when idle"
    )
    protostar_demo: bool = Field(
        True, description="First task up creates the demo owner and bot; / is the demo blog"
    )

    # PostgreSQL --------------------------------------------------------------------
    database_url: str | None = Field(
        None, description="Application role URL (not superuser, no BYPASSRLS, owns nothing)"
    )
    database_migrate_url: str | None = Field(
        None, description="Owner role URL that applies migrations; defaults to DATABASE_URL"
    )
    database_app_role: str = Field(
        "protostar_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="Role granted DML"
    )
    database_pool_min: int = Field(1, ge=0, le=100)
    database_pool_max: int = Field(10, ge=1, le=1000)
    database_timeout: float = Field(5.0, gt=0, le=120, description="Seconds to wait for a conn")

    # Redis / RabbitMQ --------------------------------------------------------------
    redis_url: str | None = Field(None, description="redis:// or rediss:// URL")
    rabbitmq_url: str | None = Field(None, description="amqp:// URL of the broker backend")
    broker_url: str | None = Field(
        None,
        validation_alias=AliasChoices("BROKER_URL", "K_SINK"),
        description="Broker ingress that producers post events to (Knative sets K_SINK)",
    )
    broker_backend: Literal["auto", "rabbitmq", "postgres"] = Field(
        "auto", description="Local broker backend: RabbitMQ when RABBITMQ_URL is set"
    )

    # Object store ------------------------------------------------------------------
    object_store_url: str | None = Field(
        None, description="s3://bucket[/prefix] or file:///path; default file://<data>/objects"
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint (MinIO), e.g. http://minio:9000"
    )
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_addressing_style: Literal["auto", "path", "virtual"] = "path"
    object_store_public_url: str | None = Field(
        None, description="Base URL under which file:// presigned links are served"
    )

    # Models ------------------------------------------------------------------------
    gemini_api_key: str | None = None
    gemini_base_url: str | None = Field(None, description="Override of the Gemini API endpoint")
    gemini_chat_model: str = "gemini-2.5-flash-lite"
    gemini_embedding_model: str = "gemini-embedding-001"
    embedding_dimensions: int = Field(768, ge=8, le=4096)
    local_embedding_model: str = "all-MiniLM-L6-v2"
    embedder_url: str | None = Field(
        None, description="The embedder Service (the ConfigMap sets its cluster-local URL)"
    )
    embedding_provider: Literal["auto", "local", "gemini"] = Field(
        "auto", description="auto: Gemini when GEMINI_API_KEY is set, else the local model"
    )
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    openai_base_url: str | None = Field(None, description="OpenAI-compatible chat endpoint")
    openai_api_key: str | None = None
    openai_model: str = "gpt-oss-120b"

    # Answering ---------------------------------------------------------------------
    answer_provider: Literal["auto", "extractive", "gemini", "openai"] = Field(
        "auto",
        description="auto: Gemini with GEMINI_API_KEY, else OPENAI_BASE_URL, else extractive",
    )
    answer_min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Answer only when the calibrated probability that the documents "
        "answer the question is at least this (default: the model's own, 0.5)",
    )
    question_translation: bool = Field(
        True,
        description="With an LLM: also retrieve each question translated into the "
        "documents' other language (ko <-> en; one call per question, cached in Redis)",
    )
    retrieval_fusion: Literal["rrf", "weighted"] = "weighted"
    retrieval_k: int = Field(8, ge=1, le=20, description="Passages given to the answerer")
    llm_timeout: float = Field(30.0, gt=0, le=300, description="Seconds per LLM request")

    # Talent search ------------------------------------------------------------------
    talent_criteria_provider: Literal["auto", "gemini", "openai", "rules"] = Field(
        "auto",
        description="How a talent search's sentence becomes criteria: an LLM's structured "
        "output (auto: the LLM ANSWER_PROVIDER picks, if any) or the offline rules",
    )

    # Accounts and quotas -----------------------------------------------------------
    admin_url: str | None = Field(
        None, description="The admin host (dashboard, owners' API); unset: the public URL"
    )
    public_url: str | None = Field(
        None, description="Public base URL (links in emails, JWT issuer); default local URL"
    )
    jwt_audience: str = Field("protostar", description="aud of every token we issue")
    access_token_ttl: int = Field(900, ge=60, le=3600, description="Seconds (15 min)")
    refresh_token_ttl: int = Field(30 * 86400, ge=3600, le=90 * 86400)
    guest_token_ttl: int = Field(7 * 86400, ge=600, le=90 * 86400)
    refresh_reuse_grace: float = Field(
        10.0, ge=0, le=60, description="Seconds a lost rotation response may be retried"
    )
    argon2_time_cost: int = Field(2, ge=2, le=20)
    argon2_memory_kib: int = Field(32768, ge=19456, le=1048576)
    argon2_parallelism: int = Field(1, ge=1, le=16)
    quota_guest_questions: int = Field(3, ge=0, le=1000, description="Per visitor identity")
    quota_stargazer_daily: int = Field(10, ge=0, le=100000, description="Per Seoul day")
    quota_bot_daily_budget: int = Field(
        1000, ge=0, le=10_000_000, description="Questions per bot per Seoul day, all askers"
    )
    quota_talent_stargazer_daily: int = Field(
        20, ge=0, le=100000, description="Talent searches per stargazer per Seoul day"
    )
    quota_talent_protostar_daily: int = Field(
        200, ge=0, le=100000, description="Talent searches per protostar per Seoul day"
    )
    guest_tokens_per_ip_hour: int = Field(30, ge=1, le=100000)
    invites_per_protostar: int = Field(5, ge=0, le=1000)
    invite_ttl_days: int = Field(14, ge=1, le=365)
    password_reset_ttl: int = Field(1800, ge=300, le=86400, description="Seconds")
    quota_timezone: str = Field("Asia/Seoul", description="The day of daily quotas")

    # Notifications (notify) --------------------------------------------------------
    discord_operator_webhook: SecretStr | None = Field(
        None, description="The operator's Discord webhook: signups, invites, failures"
    )
    discord_api_url: str = Field(
        "https://discord.com/api", description="Discord API base webhooks are posted to"
    )
    smtp_host: str | None = Field(None, description="SMTP server; unset: mails are logged")
    smtp_port: int | None = Field(None, ge=1, le=65535, description="587, or 465 with SMTP_TLS")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = Field(None, description="From: of every mail; required with SMTP")
    smtp_starttls: bool = Field(True, description="Require STARTTLS (unless SMTP_TLS)")
    smtp_tls: bool = Field(False, description="Implicit TLS from the first byte (port 465)")
    smtp_timeout: float = Field(15.0, gt=0, le=120, description="Seconds per SMTP command")
    notify_digest_email: bool = Field(False, description="Also mail the daily digest")

    # Audit log ---------------------------------------------------------------------
    audit_dir: Path | None = Field(
        None, description="Directory of the hash-chained audit files; <data>/audit"
    )

    # Secrets -----------------------------------------------------------------------
    secrets_dir: Path | None = Field(None, description="Directory of secret files; <data>/secrets")

    @field_validator("database_url", "database_migrate_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        return None if value in (None, "") else _check_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = _split(value, _REDIS_SCHEMES, "redis://[:password@]host:6379/0")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("has no host; expected redis://[:password@]host:6379/0")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError(f"database must be a number (got {db!r})")
        return value

    @field_validator("rabbitmq_url")
    @classmethod
    def _rabbitmq_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = _split(value, _AMQP_SCHEMES, "amqp://user:password@host:5672/vhost")
        if not parts.hostname:
            raise ValueError("has no host; expected amqp://user:password@host:5672/vhost")
        return value

    @field_validator("object_store_url")
    @classmethod
    def _object_store_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = _split(value, _STORE_SCHEMES, "s3://bucket[/prefix] or file:///absolute/path")
        if parts.scheme == "s3":
            bucket = parts.netloc
            if not (3 <= len(bucket) <= 63) or not all(c.isalnum() or c in "-." for c in bucket):
                raise ValueError(f"bucket name {bucket!r} is not a valid S3 bucket name")
        elif parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError("file:// URLs need an absolute path, e.g. file:///srv/objects")
        return value

    @field_validator("quota_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @field_validator(
        "s3_endpoint_url",
        "object_store_public_url",
        "gemini_base_url",
        "openai_base_url",
        "broker_url",
        "public_url",
        "admin_url",
        "embedder_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = _split(value, ("http", "https"), "http(s)://host[:port]")
        if not parts.hostname:
            raise ValueError("has no host; expected http(s)://host[:port]")
        return value.rstrip("/")

    @field_validator("discord_operator_webhook")
    @classmethod
    def _discord_webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not is_webhook_url(value.get_secret_value()):
            raise ValueError("must be https://discord.com/api/webhooks/<id>/<token>")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("discord_api_url")
    @classmethod
    def _discord_api_url(cls, value: str) -> str:
        parts = _split(value, ("http", "https"), "https://discord.com/api")
        if not parts.hostname:
            raise ValueError("has no host; expected https://discord.com/api")
        return value.rstrip("/")

    @field_validator("smtp_host", "smtp_username", "smtp_from")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else value.strip()

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from email.utils import parseaddr

        _, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError("must be an address, e.g. 'Protostar <no-reply@example.com>'")
        return value

    @model_validator(mode="after")
    def _smtp_complete(self) -> Settings:
        if self.smtp_host and not self.smtp_from:
            raise ValueError("SMTP_FROM: is required when SMTP_HOST is set")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USERNAME: SMTP_USERNAME and SMTP_PASSWORD go together")
        return self

    # Derived values ------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.protostar_data.expanduser().absolute()

    @property
    def audit_path(self) -> Path:
        return (self.audit_dir or self.data_dir / "audit").expanduser().absolute()

    @property
    def secrets_path(self) -> Path:
        return (self.secrets_dir or self.data_dir / "secrets").expanduser().absolute()

    @property
    def migrate_url(self) -> str | None:
        return self.database_migrate_url or self.database_url

    @property
    def object_store(self) -> str:
        return self.object_store_url or (self.data_dir / "objects").as_uri()

    @property
    def public_base_url(self) -> str:
        return self.public_url or f"http://{self.protostar_host}:{self.protostar_port}"

    @property
    def admin_base_url(self) -> str:
        """Where the dashboard is: ADMIN_URL, the local admin port, else the public URL."""
        if self.admin_url:
            return self.admin_url
        if self.protostar_admin_port:
            return f"http://{self.protostar_host}:{self.protostar_admin_port}"
        return self.public_base_url

    @property
    def answer_llm(self) -> Literal["gemini", "openai"] | None:
        """The LLM that ANSWER_PROVIDER picks (auto: Gemini with a key, else the
        OpenAI-compatible endpoint when one is set); None: the offline answerer."""
        if self.answer_provider == "auto":
            if self.gemini_api_key:
                return "gemini"
            return "openai" if self.openai_base_url else None
        return None if self.answer_provider == "extractive" else self.answer_provider

    @property
    def smtp_effective_port(self) -> int:
        return self.smtp_port or (465 if self.smtp_tls else 587)


def _one_line(exc: ValidationError) -> str:
    """First problem of a validation error as one line that names the setting.

    Never includes the offending value: it may hold a password.
    """
    first = exc.errors(include_url=False, include_input=False)[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"] and re.match(r"[A-Z][A-Z0-9_]*: ", message):
        return message  # a check across settings names the one to change itself
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    return f"{name}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and overrides); raise SettingsError on bad input."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests call ``get_settings.cache_clear()``."""
    return load_settings()


def check_data_dir(path: Path) -> None:
    """Refuse a data directory that cannot be created or written, creating nothing.

    Works as root too (where permission bits do not say no): the nearest existing
    ancestor must be a directory in which a file can actually be created.
    """
    target = path.expanduser().absolute()
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise SettingsError(f"PROTOSTAR_DATA: {probe} exists and is not a directory")
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=".protostar-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SettingsError(f"PROTOSTAR_DATA: cannot write to {probe} ({reason})") from None
    if target.exists() and not os.access(target, os.W_OK | os.X_OK):
        raise SettingsError(f"PROTOSTAR_DATA: {target} is not writable")
