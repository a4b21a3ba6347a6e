"""Typed errors of document intake: each has a stable code and a message a person can act on.

``UnsupportedDocument`` and ``UnsafeDocument`` are found at upload (sniffing and the DOCX
safety check) and map to 400; ``ExtractionFailed`` is what only the parser can discover
(the document then ends ``failed`` with the message as its human reason) and maps to 422.
"""

from __future__ import annotations

from shared.errors import BadRequest


class DocumentError(BadRequest):
    """Base of every refusal of an uploaded document."""

    code = "bad_document"


class UnsupportedDocument(DocumentError):
    """Not a document we accept: codes ``empty_file``, ``unsupported_type``,
    ``executable``, ``type_mismatch``."""

    code = "unsupported_type"


class UnsafeDocument(DocumentError):
    """A container or XML part that could exhaust or trick the parser: codes ``zip_bomb``,
    ``too_many_entries``, ``nested_archive``, ``unsafe_entry_name``, ``encrypted``,
    ``damaged_archive``, ``xml_entity``."""

    code = "unsafe_document"


class ExtractionFailed(DocumentError):
    """The parser could not produce text: codes ``parse_failed``, ``no_text``,
    ``too_much_text``, ``too_slow`` (past the time budget). The message is the
    document's human-readable failure reason."""

    status = 422
    code = "parse_failed"
