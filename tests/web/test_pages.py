"""The web function's pages and files over HTTP (the running system), and the loader's
size and hygiene (no browser needed)."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest

from shared.web.embedding import chat_page_values, origin_of
from shared.web.headers import content_security_policy
from tests.conftest import ROOT
from tests.web.conftest import BOT, System

pytestmark = pytest.mark.e2e  # the whole system, through the local runtime

WIDGET = ROOT / "web" / "widget.js"


def test_the_widget_loader_is_at_most_5_kb_gzipped() -> None:
    size = len(gzip.compress(WIDGET.read_bytes(), compresslevel=9))
    assert size <= 5 * 1024, size


def test_the_widget_loader_leaves_the_host_pages_state_alone() -> None:
    source = WIDGET.read_text()
    for forbidden in (
        "document.cookie",
        "localStorage",
        "sessionStorage",
        "innerHTML",
        "eval(",
        "import(",
        '"*"',
        "'*'",
    ):
        assert forbidden not in source, forbidden
    # postMessage always names the exact origin of our server.
    assert re.findall(r"postMessage\([^)]*\)", source)
    assert all(call.endswith(", origin)") for call in re.findall(r"postMessage\([^)]*\)", source))


def test_no_static_script_writes_untrusted_html() -> None:
    for path in (ROOT / "web" / "static").glob("*.js"):
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.name} uses {sink}"
        assert "postMessage(" not in text or '"*"' not in text, path.name


def test_csp_is_strict() -> None:
    csp = content_security_policy(frame_ancestors=["https://blog.example.com"])
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'self' https://blog.example.com"
    assert "unsafe" not in csp


def test_the_parent_origin_is_accepted_only_when_allowed() -> None:
    allowed = ("https://blog.example.com",)
    own = "http://127.0.0.1:8080"
    pick = lambda parent: chat_page_values(  # noqa: E731
        BOT, allowed, own_origin=own, parent=parent, lang="ko"
    )["parent"]
    assert pick("https://blog.example.com") == "https://blog.example.com"
    assert pick("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad in ("https://evil.example", "https://blog.example.com.evil.example", "null", "", None):
        assert pick(bad) == ""
    assert chat_page_values(BOT, allowed, own_origin=own, parent=None, lang="xx")["lang"] == ""
    assert origin_of("https://Blog.Example.com:443/path") == "https://blog.example.com"
    assert origin_of("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


def test_pages_carry_the_security_headers(system: System) -> None:
    with httpx.Client(base_url=system.url) as client:
        chat = client.get(f"/b/{BOT}", params={"parent": "https://evil.example", "lang": "ko"})
        assert chat.status_code == 200
        csp = chat.headers["content-security-policy"]
        assert f"frame-ancestors 'self' {system.url}" in csp
        assert f"http://localhost:{system.foreign_port}" in csp
        assert "script-src 'self';" in csp
        assert chat.headers["x-content-type-options"] == "nosniff"
        assert chat.headers["referrer-policy"] == "no-referrer"
        assert "x-frame-options" not in chat.headers
        assert 'data-parent=""' in chat.text  # a parent the bot does not allow is dropped
        assert "<script>" not in chat.text  # no inline script: only the module file
        assert "onload" not in chat.text
        for path in ("/", "/dashboard"):
            page = client.get(path)
            assert page.status_code == 200
            assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
            assert page.headers["x-frame-options"] == "SAMEORIGIN"
        missing = client.get("/b/no-such-bot-here")
        assert missing.status_code == 404
        assert "text/html" in missing.headers["content-type"]
        widget = client.get("/widget.js")
        assert widget.headers["content-type"].startswith("text/javascript")
        assert widget.headers["cross-origin-resource-policy"] == "cross-origin"
        again = client.get("/widget.js", headers={"If-None-Match": widget.headers["etag"]})
        assert again.status_code == 304
        assert client.get("/static/chat.css").headers["content-type"].startswith("text/css")
        for bad in (
            "/static/..%2fwidget.js",
            "/static/%2e%2e/pages/chat.html",
            "/static/x.py",
            "/static/",
            "/b/Not_A_Slug",
        ):
            assert client.get(bad).status_code == 404, bad


def test_a_page_nobody_may_frame_says_none() -> None:
    csp = content_security_policy(framed=False)
    assert "frame-ancestors 'none'" in csp
    assert "'self'" not in csp.split("frame-ancestors", 1)[1]
    with pytest.raises(ValueError, match="no frame ancestors"):
        content_security_policy(framed=False, frame_ancestors=["https://blog.example.com"])


def test_the_reset_page_is_never_stored_framed_or_referred(system: System) -> None:
    """/reset reads a single-use token from its fragment: strict CSP, framed by nobody,
    no-store, no referrer, and only our module script."""
    with httpx.Client(base_url=system.url) as client:
        page = client.get("/reset")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cross-origin-opener-policy"] == "same-origin"
    assert '<meta name="referrer" content="no-referrer">' in page.text
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    assert scripts == ['<script type="module" src="/static/reset.js">'], scripts
    assert not re.search(r"\son[a-z]+\s*=", page.text)  # no inline event handlers


def test_the_talent_page_is_never_stored_or_framed(system: System) -> None:
    """/talent signs users in and shows what they searched: strict CSP, framed by nobody,
    no-store, no referrer, only our module script."""
    with httpx.Client(base_url=system.url) as client:
        page = client.get("/talent")
        assert client.get("/talent/x").status_code == 404
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    directives = dict(d.split(" ", 1) for d in page.headers["content-security-policy"].split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    assert scripts == ['<script type="module" src="/static/talent.js">'], scripts
    assert not re.search(r"\son[a-z]+\s*=", page.text)
