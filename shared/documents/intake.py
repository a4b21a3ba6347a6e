"""Everything the upload endpoint checks before it stores a byte: one call, one answer."""

from __future__ import annotations

from dataclasses import dataclass

from shared.documents.model import MediaType
from shared.documents.safety import parse_xml, read_docx
from shared.documents.sniff import detect, sanitize_filename
from shared.errors import PayloadTooLarge


@dataclass(frozen=True, slots=True)
class Upload:
    media_type: MediaType
    filename: str  # sanitised, safe to show and to use as a label
    size: int


def inspect_upload(data: bytes, filename: str | None, *, max_bytes: int | None = None) -> Upload:
    """Size, type from the bytes (with the name/content check) and, for DOCX, the zip
    safety check. Raises ``PayloadTooLarge`` (413) or a ``DocumentError`` (400)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadTooLarge(
            f"the file is {len(data):,} bytes; the limit is {max_bytes:,}",
            code="file_too_large",
        )
    media_type = detect(data, filename)
    if media_type is MediaType.DOCX:
        # The container first (bombs, nesting), then the main part's XML (entities,
        # DTDs): both are cheap, so both are refused at upload instead of later.
        part = "word/document.xml"
        body = read_docx(data, {part}).get(part)
        if body is not None:
            parse_xml(body, part)
    return Upload(media_type=media_type, filename=sanitize_filename(filename), size=len(data))
