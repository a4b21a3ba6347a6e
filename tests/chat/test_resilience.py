"""One classifier of provider failures for answering and embedding: the real SDKs'
errors, our own errors left alone, and the server's wait hints."""

from __future__ import annotations

import httpx
import pytest

from shared.errors import ServiceUnavailable
from shared.resilience import is_outage, is_retryable, retry_hint, status_of


def genai_error(code: int, details: dict | None = None, headers: dict | None = None) -> Exception:
    from google.genai import errors

    response = httpx.Response(code, headers=headers or {})
    return errors.APIError(code, details or {"error": {"code": code}}, response)


def openai_error(code: int) -> Exception:
    import openai

    request = httpx.Request("POST", "http://llm/v1/chat/completions")
    return openai.APIStatusError("x", response=httpx.Response(code, request=request), body=None)


@pytest.mark.parametrize(
    ("make", "status", "outage", "retry"),
    [
        (lambda: genai_error(503), 503, True, True),
        (lambda: genai_error(429), 429, True, True),
        (lambda: genai_error(501), 501, True, False),  # down, but the same call won't help
        (lambda: genai_error(400), 400, False, False),
        (lambda: openai_error(502), 502, True, True),
        (lambda: openai_error(401), 401, False, False),
        (lambda: httpx.ConnectError("refused"), None, True, True),
        (lambda: TimeoutError(), None, True, True),
        (lambda: ServiceUnavailable("ours"), None, False, False),  # our 503 is not theirs
        (lambda: ValueError("a bug"), None, False, False),
    ],
)
def test_failures_are_classified_alike_for_every_provider(
    make: object, status: int | None, outage: bool, retry: bool
) -> None:
    exc = make()  # type: ignore[operator]
    assert status_of(exc) == status
    assert is_outage(exc) is outage
    assert is_retryable(exc) is retry


def test_the_wait_the_server_asks_for() -> None:
    info = {
        "error": {
            "code": 429,
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}],
        }
    }
    assert retry_hint(genai_error(429, info)) == 7.0
    assert retry_hint(genai_error(503, headers={"Retry-After": "3"})) == 3.0
    assert retry_hint(genai_error(503, headers={"Retry-After": "soon"})) is None
    assert retry_hint(genai_error(503)) is None
    assert retry_hint(None) is None
