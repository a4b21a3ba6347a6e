"""Files under ``web/``: HTML templates and static assets, read once and served with
strong ETags. No build step: what is in the repository is what browsers get.

Only names of a plain shape (``[a-z0-9_-]+.(js|css|svg|...)`` directly under
``web/static/``) are served; nothing else on disk is reachable.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
STATIC = WEB_ROOT / "static"
PAGES = WEB_ROOT / "pages"

TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
_STATIC_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg|ico|png|json)")
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _asset(path: Path) -> Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(body, TYPES[path.suffix], f'"{digest}"')


@functools.cache
def static(name: str) -> Asset | None:
    """The static file ``web/static/<name>``, or None when there is no such file."""
    if not _STATIC_NAME.fullmatch(name):
        return None
    path = STATIC / name
    if not path.is_file():
        return None
    return _asset(path)


@functools.cache
def widget() -> Asset:
    return _asset(WEB_ROOT / "widget.js")


@functools.cache
def _template(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


def page(name: str, **values: str) -> str:
    """``web/pages/<name>.html`` with each ``{{key}}`` replaced by its HTML-escaped
    value (a missing key is a bug, so it raises)."""

    def fill(match: re.Match[str]) -> str:
        return html.escape(values[match.group(1)], quote=True)

    return _PLACEHOLDER.sub(fill, _template(name))


def not_modified(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags
