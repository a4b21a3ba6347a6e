"""The line format of the audit chain. Pure functions, no I/O.

Each line is one JSON object (ASCII only: every control character, CR, LF, U+2028 and
non-ASCII character is a JSON escape, so no field can break a line), keys sorted, no
spaces, and it ends with its own seal::

    {"at":...,"data":{...},"id":...,"prev":"<sha256 of the previous line>",...,"hash":"<h>"}

``prev`` is the SHA-256 (hex) of the previous line's bytes, newline excluded: the last
line of the previous day's file for a file's first line, or :data:`GENESIS` for the
very first line. ``hash`` is the SHA-256 of the line's bytes before ``,"hash":"``, so a
changed byte anywhere in a line is caught on that very line, and a removed or reordered
line on the line after it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

GENESIS = "0" * 64
_SEAL = ',"hash":"'
_SEAL_LEN = len(_SEAL) + 64 + 2  # ,"hash":"<64 hex>"}
_HEX = re.compile(rb"^[0-9a-f]{64}$")
_FILE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.jsonl$")


class ChainError(ValueError):
    """A line that is not a sealed audit line, or does not follow its predecessor."""


def file_name(day: date) -> str:
    """The only way a file name is made: from a date."""
    return f"{day.isoformat()}.jsonl"


def file_day(name: str) -> date | None:
    """The date of an audit file name, or None for any other name."""
    match = _FILE.match(name)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def digest(line: bytes) -> str:
    """What the next line's ``prev`` must be."""
    return hashlib.sha256(line).hexdigest()


def seal(fields: Mapping[str, Any], prev: str) -> bytes:
    """The line (without newline) recording ``fields`` after a line whose digest is ``prev``."""
    if "hash" in fields or "prev" in fields:
        raise ValueError("'hash' and 'prev' are the chain's own keys")
    body = json.dumps(
        {**fields, "prev": prev},
        ensure_ascii=True,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    ).encode("ascii")
    prefix = body[:-1]
    return prefix + f'{_SEAL}{hashlib.sha256(prefix).hexdigest()}"}}'.encode("ascii")


@dataclass(frozen=True)
class Line:
    raw: bytes
    fields: dict[str, Any]

    @property
    def digest(self) -> str:
        return digest(self.raw)


def check(raw: bytes, prev: str) -> Line:
    """Parse a line and check its seal and its link to ``prev``; raise ChainError."""
    if len(raw) < _SEAL_LEN + 2 or not raw.endswith(b'"}'):
        raise ChainError("not a sealed audit line")
    cut = len(raw) - _SEAL_LEN
    if raw[cut : cut + len(_SEAL)] != _SEAL.encode():
        raise ChainError("not a sealed audit line")
    sealed = raw[cut + len(_SEAL) : -2]
    if not _HEX.match(sealed):
        raise ChainError("the line's hash is not 64 hex digits")
    if hashlib.sha256(raw[:cut]).hexdigest().encode() != sealed:
        raise ChainError("the line does not match its hash (changed after it was written)")
    try:
        fields = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ChainError("the line is not valid JSON") from None
    if not isinstance(fields, dict):
        raise ChainError("the line is not a JSON object")
    if fields.get("prev") != prev:
        raise ChainError(
            "the line does not follow the previous one (prev is "
            f"{str(fields.get('prev'))[:16]}..., expected {prev[:16]}...)"
        )
    return Line(raw, fields)
