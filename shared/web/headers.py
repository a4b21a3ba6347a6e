"""Security headers of everything the web function serves.

Every page gets a strict Content-Security-Policy: scripts only from our origin (no
inline script, no eval), styles only from our origin, images only from our origin or
``data:`` (no remote image can ever be requested, whatever a model writes), connections
only to our own API, no plugins, no ``<base>``, forms only to ourselves. Framing is
decided per page: the chat page may be framed by its bot's allowed origins (and our
own pages), the reset page (it holds a token) by nobody at all, everything else by
nobody but us.
"""

from __future__ import annotations

from collections.abc import Iterable

SELF = "'self'"


def content_security_policy(
    *,
    frame_ancestors: Iterable[str] = (),
    frames: bool = False,
    connect: Iterable[str] = (),
    framed: bool = True,
) -> str:
    """The policy of one page. ``frame_ancestors`` are exact origins besides ``'self'``;
    ``frames`` lets the page itself frame our origin (the demo blog embeds the widget);
    ``framed=False`` lets nobody frame the page, not even our own origin."""
    ancestors_list = list(dict.fromkeys(frame_ancestors))
    if not framed and ancestors_list:
        raise ValueError("a page nobody may frame names no frame ancestors")
    ancestors = " ".join([SELF, *ancestors_list]) if framed else "'none'"
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


def page_headers(csp: str, *, frameable: bool, secret: bool = False) -> dict[str, str]:
    """Headers of an HTML page besides its CSP: no sniffing, no referrer leaks, pages
    revalidated, and legacy framing limited to our origin unless the page is frameable.
    A ``secret`` page (one that handles a token) is never stored and never framed."""
    if secret and frameable:
        raise ValueError("a page that handles a secret is never frameable")
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store" if secret else "no-cache",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if not frameable:
        # Browsers without CSP level 2 still honour this; the chat page cannot use it
        # (it names no list of origins) and relies on frame-ancestors alone.
        headers["X-Frame-Options"] = "DENY" if secret else "SAMEORIGIN"
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
