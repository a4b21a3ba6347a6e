"""Career documents: sniffing, safety checks, extraction, chunking and lexical terms.

Pure functions: no database, no network. The pipeline, in the order the services use it::

    # content (upload): detect() the type from the bytes + sanitize_filename()
    # + check_docx() for DOCX; refusals are 400 (413 over max_bytes)
    upload = inspect_upload(data, filename, max_bytes=limit)

    # embed: blocks with section paths, citation-ready chunks, terms for BM25
    doc = extract(data, upload.media_type, filename=upload.filename)
    chunks = chunk(doc)
    chunk_terms = [index_terms(c.text) for c in chunks]  # terms + loanword keys
    # and, in chat, query_terms(question) + loanword_keys(question)

Importing this package does not load the Korean analyzer (kiwipiepy); the first call
that needs it does (``korean.kiwi()``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are loaded on first use (PEP 562): a function that needs only the lexical
# analyzer (chat) does not import the parsers (selectolax, markdown-it, defusedxml).
_EXPORTS = {
    "chunk": "chunking",
    "DocumentError": "errors",
    "ExtractionFailed": "errors",
    "UnsafeDocument": "errors",
    "UnsupportedDocument": "errors",
    "extract": "extract",
    "Upload": "intake",
    "inspect_upload": "intake",
    "index_terms": "lexical",
    "loanword_keys": "lexical",
    "query_terms": "lexical",
    "terms": "lexical",
    "Block": "model",
    "BlockKind": "model",
    "Chunk": "model",
    "ExtractedDocument": "model",
    "MediaType": "model",
    "check_docx": "safety",
    "detect": "sniff",
    "sanitize_filename": "sniff",
    "decode_text": "text",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # what the names are, for type checkers (redundant aliases export them)
    from shared.documents.chunking import chunk as chunk
    from shared.documents.errors import DocumentError as DocumentError
    from shared.documents.errors import ExtractionFailed as ExtractionFailed
    from shared.documents.errors import UnsafeDocument as UnsafeDocument
    from shared.documents.errors import UnsupportedDocument as UnsupportedDocument
    from shared.documents.extract import extract as extract
    from shared.documents.intake import Upload as Upload
    from shared.documents.intake import inspect_upload as inspect_upload
    from shared.documents.lexical import index_terms as index_terms
    from shared.documents.lexical import loanword_keys as loanword_keys
    from shared.documents.lexical import query_terms as query_terms
    from shared.documents.lexical import terms as terms
    from shared.documents.model import Block as Block
    from shared.documents.model import BlockKind as BlockKind
    from shared.documents.model import Chunk as Chunk
    from shared.documents.model import ExtractedDocument as ExtractedDocument
    from shared.documents.model import MediaType as MediaType
    from shared.documents.safety import check_docx as check_docx
    from shared.documents.sniff import detect as detect
    from shared.documents.sniff import sanitize_filename as sanitize_filename
    from shared.documents.text import decode_text as decode_text
