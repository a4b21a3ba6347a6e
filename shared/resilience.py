"""What a failed call to a model provider (Gemini, an OpenAI-compatible endpoint) says:
its HTTP status, whether it is an outage (the provider or the way to it is down: retry,
count it against the circuit breaker) and how long the server asked us to wait.

One classifier for the answering path (shared/chat/llm.py) and the embedding path
(shared/embeddings/gemini.py). SDKs are never imported here at module load: the checks
look at attributes, and import an SDK's exception types only when asked.
"""

from __future__ import annotations

import re

from shared.errors import ProtostarError

# Statuses worth retrying: the request may succeed as it is, later.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# The OpenAI client's own names for "could not reach it" and "it did not answer".
_CLIENT_OUTAGES = frozenset({"APIConnectionError", "APITimeoutError"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def status_of(exc: BaseException | None) -> int | None:
    """The HTTP status an SDK error carries (google-genai ``code``, openai
    ``status_code``), if any; never our own errors' (they tell our caller, not about
    the provider)."""
    if isinstance(exc, ProtostarError):
        return None
    for attr in ("code", "status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def is_transport_error(exc: BaseException) -> bool:
    """No answer at all: a timeout, a refused or dropped connection."""
    import httpx

    if isinstance(exc, httpx.TransportError | TimeoutError | OSError):
        return True
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp comes with google-genai
        return False
    return isinstance(exc, aiohttp.ClientError)


def is_outage(exc: BaseException) -> bool:
    """The provider (or the way to it) is down: 408, 429 or any 5xx, or no answer."""
    status = status_of(exc)
    if status is not None:
        return status in RETRY_STATUSES or status >= 500
    return is_transport_error(exc) or type(exc).__name__ in _CLIENT_OUTAGES


def is_retryable(exc: BaseException) -> bool:
    """The same request may succeed later: the retry statuses, or no answer."""
    status = status_of(exc)
    if status is not None:
        return status in RETRY_STATUSES
    return is_transport_error(exc) or type(exc).__name__ in _CLIENT_OUTAGES


def retry_hint(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait: Google's ``RetryInfo.retryDelay`` in the
    error details, else the ``Retry-After`` header (seconds)."""
    details = getattr(exc, "details", None)
    error = details.get("error", details) if isinstance(details, dict) else None
    items = error.get("details") if isinstance(error, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    headers = getattr(getattr(exc, "response", None), "headers", None)
    try:
        value = headers.get("retry-after") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
