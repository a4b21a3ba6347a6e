"""Typed errors of the library and their single mapping to HTTP status codes."""

from __future__ import annotations


class ProtostarError(Exception):
    """Base of every error the library raises on purpose."""

    status: int = 500
    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})
        self.details = dict(details or {})
        if code is not None:
            self.code = code
        if self.status == 401:
            self.headers.setdefault("WWW-Authenticate", f'Bearer error="{self.code}"')

    def to_body(self) -> dict[str, dict[str, object]]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class SettingsError(ProtostarError):
    """A setting is missing or malformed; the message names the setting."""

    code = "bad_settings"


class BadRequest(ProtostarError):
    status = 400
    code = "bad_request"


class Unauthorized(ProtostarError):
    status = 401
    code = "unauthorized"


class Forbidden(ProtostarError):
    status = 403
    code = "forbidden"


class NotFound(ProtostarError):
    status = 404
    code = "not_found"


class Conflict(ProtostarError):
    status = 409
    code = "conflict"


class LengthRequired(ProtostarError):
    status = 411
    code = "length_required"


class PayloadTooLarge(ProtostarError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(ProtostarError):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(ProtostarError):
    """A dependency (database, Redis, object store, model) is down: fail closed."""

    status = 503
    code = "unavailable"


class ObjectNotFound(NotFound):
    code = "object_not_found"


class InvalidObjectKey(BadRequest):
    code = "invalid_object_key"


class MigrationError(ProtostarError):
    code = "migration_failed"
