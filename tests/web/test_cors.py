"""shared.cors: exact-origin CORS, as a unit (the bots tests cover it over HTTP)."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers, MutableHeaders

from shared.cors import CorsPolicy, is_preflight

BLOG = "https://blog.example.com"
POLICY = CorsPolicy([BLOG, "http://localhost:4000", "null"], methods=("POST", "get"))


def actual(origin: str | None, vary: str | None = None) -> MutableHeaders:
    request = Headers({"origin": origin} if origin is not None else {})
    response = MutableHeaders({"vary": vary} if vary else {})
    POLICY.apply(request, response)
    return response


def test_an_allowed_origin_gets_exactly_itself_back() -> None:
    headers = actual(BLOG)
    assert headers["access-control-allow-origin"] == BLOG
    assert headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in headers


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://blog.example.com.evil.example",  # suffix trick
        "https://evilblog.example.com",
        "https://blog.example.co",  # prefix of an allowed one
        "http://blog.example.com",  # other scheme
        "https://blog.example.com:8443",  # other port
        "https://BLOG.example.com",  # browsers send lower case; nothing is normalised here
        "https://blog.example.com/",
        "null",  # sandboxed frames and file: pages
        "NULL",
        "*",
        "",
    ],
)
def test_anything_else_gets_no_grant_but_still_varies(origin: str) -> None:
    headers = actual(origin)
    assert "access-control-allow-origin" not in headers
    assert headers["vary"] == "Origin"


def test_no_origin_header_is_a_plain_response() -> None:
    headers = actual(None)
    assert "access-control-allow-origin" not in headers
    assert headers["vary"] == "Origin"


def test_vary_is_merged_not_overwritten() -> None:
    assert actual(BLOG, "Accept-Encoding")["vary"] == "Accept-Encoding, Origin"
    assert actual(BLOG, "origin")["vary"] == "origin"


def test_null_is_never_allowed_even_when_stored() -> None:
    assert not POLICY.allows("null")
    assert CorsPolicy(["null"]).origins == frozenset()


def preflight(origin: str, method: str = "POST", headers: str = "") -> tuple[int, Headers]:
    request = {"origin": origin, "access-control-request-method": method}
    if headers:
        request["access-control-request-headers"] = headers
    response = POLICY.preflight(Headers(request))
    return response.status_code, Headers(raw=response.raw_headers)


def test_a_preflight_from_an_allowed_origin_is_granted() -> None:
    status, headers = preflight(BLOG, "POST", "authorization, content-type")
    assert status == 204
    assert headers["access-control-allow-origin"] == BLOG
    assert headers["access-control-allow-methods"] == "POST, GET"
    assert "Authorization" in headers["access-control-allow-headers"]
    assert int(headers["access-control-max-age"]) > 0
    assert "Origin" in headers["vary"]


@pytest.mark.parametrize(
    ("origin", "method", "wanted"),
    [
        ("https://evil.example", "POST", ""),
        ("null", "POST", ""),
        (BLOG, "DELETE", ""),  # a method the resource does not offer
        (BLOG, "POST", "x-secret-header"),  # a header it does not accept
    ],
)
def test_a_preflight_that_does_not_match_is_403_without_grant(
    origin: str, method: str, wanted: str
) -> None:
    status, headers = preflight(origin, method, wanted)
    assert status == 403
    assert "access-control-allow-origin" not in headers
    assert "access-control-allow-methods" not in headers
    assert "Origin" in headers["vary"]


def test_is_preflight() -> None:
    assert is_preflight("OPTIONS", Headers({"access-control-request-method": "POST"}))
    assert not is_preflight("OPTIONS", Headers({}))
    assert not is_preflight("GET", Headers({"access-control-request-method": "POST"}))
