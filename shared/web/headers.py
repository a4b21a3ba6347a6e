"""Security headers of everything the web function serves.

Every page gets a strict Content-Security-Policy: scripts only from our origin (no
inline script, no eval), styles only from our origin, images only from our origin or
``data:`` (no remote image can ever be requested, whatever a model writes), connections
only to our own API, no plugins, no ``<base>``, forms only to ourselves. Framing is
decided per page: the chat page may be framed by its bot's allowed origins (and our
own pages), everything else by nobody but us.
"""

from __future__ import annotations

from collections.abc import Iterable

SELF = "'self'"


def content_security_policy(
    *, frame_ancestors: Iterable[str] = (), frames: bool = False, connect: Iterable[str] = ()
) -> str:
    """The policy of one page. ``frame_ancestors`` are exact origins besides ``'self'``;
    ``frames`` lets the page itself frame our origin (the demo blog embeds the widget)."""
    ancestors = " ".join([SELF, *dict.fromkeys(frame_ancestors)])
    frame_src = SELF if frames else "'none'"
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src " + " ".join([SELF, *connect]),
        "manifest-src 'self'",
        f"frame-src {frame_src}",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        f"frame-ancestors {ancestors}",
    ]
    return "; ".join(directives)


def page_headers(csp: str, *, frameable: bool) -> dict[str, str]:
    """Headers of an HTML page besides its CSP: no sniffing, no referrer leaks, pages
    revalidated, and legacy framing limited to our origin unless the page is frameable."""
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if not frameable:
        # Browsers without CSP level 2 still honour this; the chat page cannot use it
        # (it names no list of origins) and relies on frame-ancestors alone.
        headers["X-Frame-Options"] = "SAMEORIGIN"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return headers


def asset_headers(content_type: str, *, cross_origin: bool = False) -> dict[str, str]:
    """Headers of a static file; ``cross_origin`` for what other sites load (widget.js)."""
    return {
        "Content-Type": content_type,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin" if cross_origin else "same-origin",
        "Referrer-Policy": "no-referrer",
    }
