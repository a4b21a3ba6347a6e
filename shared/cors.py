"""CORS for endpoints a bot's widget calls from its owner's blog.

A bot lists the exact origins allowed to embed it (``allowed_origins``, normalised by
``shared.bots.validation.origin``). Only those get CORS headers, compared as whole
strings: no reflection of whatever ``Origin`` arrives, no prefix, suffix or substring
matching, no wildcard, and the opaque origin ``null`` (sandboxed frames, ``file:``,
redirects) is never allowed. Every answer carries ``Vary: Origin`` so a cache never
hands one origin's answer to another.

Pure: the caller looks the origins up and hands them over. Use it as::

    policy = CorsPolicy(bot.allowed_origins, methods=("POST",))
    if is_preflight(request.method, request.headers):
        return policy.preflight(request.headers)
    response = ...
    policy.apply(request.headers, response.headers)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from starlette.responses import Response

SAFE_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})
DEFAULT_HEADERS = ("Authorization", "Content-Type", "Last-Event-ID")
PREFLIGHT_MAX_AGE = 600


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """An OPTIONS request carrying ``Access-Control-Request-Method``."""
    return method == "OPTIONS" and "access-control-request-method" in headers


class WritableHeaders(Protocol):
    """Response headers: Starlette's ``MutableHeaders`` or a plain ``dict``."""

    def get(self, key: str, default: str, /) -> str: ...

    def __setitem__(self, key: str, value: str) -> None: ...


def _add_vary(headers: WritableHeaders, value: str) -> None:
    current = headers.get("vary", "")
    names = [part.strip() for part in current.split(",") if part.strip()]
    if value.lower() not in (name.lower() for name in names):
        names.append(value)
    headers["vary"] = ", ".join(names)


class CorsPolicy:
    """Exact-origin CORS for one resource (one bot's endpoints)."""

    def __init__(
        self,
        origins: Iterable[str],
        *,
        methods: Iterable[str] = ("GET",),
        headers: Iterable[str] = DEFAULT_HEADERS,
        expose: Iterable[str] = (),
        max_age: int = PREFLIGHT_MAX_AGE,
    ) -> None:
        # "null" may never be allowed, whatever was stored.
        self.origins = frozenset(o for o in origins if o and o.lower() != "null")
        self.methods = tuple(dict.fromkeys(m.upper() for m in methods))
        self.headers = tuple(headers)
        self._header_names = frozenset(h.lower() for h in self.headers) | SAFE_HEADERS
        self.expose = tuple(expose)
        self.max_age = max_age

    def allows(self, origin: str | None) -> bool:
        """Whether ``origin`` (the raw ``Origin`` header) is exactly one of ours."""
        return origin is not None and origin in self.origins

    def apply(self, request_headers: Mapping[str, str], headers: WritableHeaders) -> None:
        """Add the CORS headers of an actual (non-preflight) response, in place."""
        _add_vary(headers, "Origin")
        origin = request_headers.get("origin")
        if not self.allows(origin):
            return
        assert origin is not None
        headers["access-control-allow-origin"] = origin
        if self.expose:
            headers["access-control-expose-headers"] = ", ".join(self.expose)

    def preflight(self, request_headers: Mapping[str, str]) -> Response:
        """Answer an OPTIONS preflight: 204 with the grant, or 403 without any."""
        origin = request_headers.get("origin")
        method = request_headers.get("access-control-request-method", "").strip().upper()
        wanted = [
            h.strip().lower()
            for h in request_headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        response = Response(status_code=204)
        _add_vary(response.headers, "Origin")
        _add_vary(response.headers, "Access-Control-Request-Method")
        _add_vary(response.headers, "Access-Control-Request-Headers")
        if (
            not self.allows(origin)
            or method not in self.methods
            or any(h not in self._header_names for h in wanted)
        ):
            response.status_code = 403
            return response
        assert origin is not None
        response.headers["access-control-allow-origin"] = origin
        response.headers["access-control-allow-methods"] = ", ".join(self.methods)
        response.headers["access-control-allow-headers"] = ", ".join(self.headers)
        response.headers["access-control-max-age"] = str(self.max_age)
        return response
