"""The two duration syntaxes Knative manifests use.

Autoscaling annotations take Go durations (``time.ParseDuration``: ``0s``, ``90s``,
``1m30s``, ``1.5h``, ``500ms``); delivery specs take ISO 8601 durations (``PT0.5S``,
``PT2M``, ``P1D``).
"""

from __future__ import annotations

import re
from decimal import Decimal

_GO_UNITS = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "μs": Decimal("1e-6"),
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_WHOLE = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")

_ISO_NUMBER = r"\d+(?:[.,]\d+)?"
_ISO = re.compile(
    rf"P(?:(?P<Y>{_ISO_NUMBER})Y)?(?:(?P<M>{_ISO_NUMBER})M)?(?:(?P<W>{_ISO_NUMBER})W)?"
    rf"(?:(?P<D>{_ISO_NUMBER})D)?"
    rf"(?:T(?:(?P<h>{_ISO_NUMBER})H)?(?:(?P<m>{_ISO_NUMBER})M)?(?:(?P<s>{_ISO_NUMBER})S)?)?"
)
_ISO_SECONDS = {
    "Y": Decimal(365 * 86400),
    "M": Decimal(30 * 86400),
    "W": Decimal(7 * 86400),
    "D": Decimal(86400),
    "h": Decimal(3600),
    "m": Decimal(60),
    "s": Decimal(1),
}


def parse_go_duration(text: str) -> Decimal:
    """Seconds of a Go duration string; ValueError when Go would refuse it."""
    if text in ("0", "+0", "-0"):
        return Decimal(0)
    if not _GO_WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration (e.g. '0s', '90s', '1m30s', '1h')")
    total = sum(
        (Decimal(number) * _GO_UNITS[unit] for number, unit in _GO_PART.findall(text)),
        Decimal(0),
    )
    return -total if text.startswith("-") else total


def parse_iso_duration(text: str) -> Decimal:
    """Approximate seconds of an ISO 8601 duration; ValueError when it is not one."""
    match = _ISO.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. 'PT0.5S', 'PT1M', 'P1D')")
    return sum(
        (
            Decimal(value.replace(",", ".")) * _ISO_SECONDS[unit]
            for unit, value in match.groupdict().items()
            if value is not None
        ),
        Decimal(0),
    )
