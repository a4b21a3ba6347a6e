"""Text bytes to str (encoding detection) and the one normalisation every block gets."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes

from shared.documents.errors import UnsupportedDocument

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Share of Hangul syllables among the non-ASCII characters for a CP949 reading to win,
# and share of those that are KS X 1001 (EUC-KR) syllables: Latin-1 bytes that happen to
# decode as CP949 land in the rare extended (UHC) syllables instead.
_CP949_HANGUL_SHARE = 0.6
_CP949_COMMON_SHARE = 0.9
_SAMPLE_CHARS = 200_000
_WESTERN = "cp1252"
# Control characters a text file may contain; any other one beyond this share is binary.
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_MAX_CONTROL_SHARE = 0.01

# Invisible characters that only hide or reorder text (zero-width, bidi controls, the
# Unicode tag block used for "ASCII smuggling"): removed from every block.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    encoding: str


def decode_text(data: bytes) -> DecodedText:
    """Decode text bytes: BOMs (UTF-8/16/32), UTF-8, CP949/EUC-KR, then charset-normalizer.

    Raises ``UnsupportedDocument`` (``unsupported_type``) for binary data or an encoding
    that cannot be told.
    """
    decoded = _decode(data)
    if decoded is None or not _looks_like_text(decoded.text):
        raise UnsupportedDocument(
            "the file is binary data or text in an unknown encoding; "
            "upload PDF, DOCX, HTML, Markdown or plain text",
            code="unsupported_type",
        )
    return decoded


def _decode(data: bytes) -> DecodedText | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return DecodedText(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                return None
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    korean = _decode_cp949(data)
    if korean is not None:
        return korean
    results = from_bytes(data)
    best = results.best()
    if best is None:
        return None
    # On short text the single-byte Latin code pages tie; Western (cp1252) is the likely
    # one for documents that are not Korean.
    tied = [r for r in results if r.chaos <= best.chaos and r.encoding == _WESTERN]
    choice = tied[0] if tied else best
    return DecodedText(str(choice), choice.encoding)


def _decode_cp949(data: bytes) -> DecodedText | None:
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError:
        return None
    sample = [ch for ch in text[:_SAMPLE_CHARS] if ord(ch) > 0x7F]
    if not sample:
        return None
    hangul = [ch for ch in sample if "\uac00" <= ch <= "\ud7a3"]
    if len(hangul) < _CP949_HANGUL_SHARE * len(sample):
        return None
    common = sum(1 for ch in hangul if _in_ks_x_1001(ch))
    if common < _CP949_COMMON_SHARE * len(hangul):
        return None
    return DecodedText(text, "cp949")


def _in_ks_x_1001(ch: str) -> bool:
    try:
        ch.encode("euc_kr")
    except UnicodeEncodeError:
        return False
    return True


def _looks_like_text(text: str) -> bool:
    if "\x00" in text:
        return False
    sample = text[:_SAMPLE_CHARS]
    controls = sum(
        1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS
    )
    return controls <= _MAX_CONTROL_SHARE * max(len(sample), 1)


def clean_text(text: str) -> str:
    """NFC, invisible characters removed, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return _SPACE.sub(" ", text).strip()
