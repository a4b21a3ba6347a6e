"""Career documents: sniffing, safety checks, extraction, chunking and lexical terms.

Pure functions: no database, no network. The pipeline, in the order the services use it::

    # content (upload): detect() the type from the bytes + sanitize_filename()
    # + check_docx() for DOCX; refusals are 400 (413 over max_bytes)
    upload = inspect_upload(data, filename, max_bytes=limit)

    # embed: blocks with section paths, citation-ready chunks, terms for BM25
    doc = extract(data, upload.media_type, filename=upload.filename)
    chunks = chunk(doc)
    chunk_terms = [terms(c.text) for c in chunks]  # and query_terms(question) in chat

Importing this package does not load the Korean analyzer (kiwipiepy); the first call
that needs it does (``korean.kiwi()``).
"""

from shared.documents.chunking import chunk
from shared.documents.errors import (
    DocumentError,
    ExtractionFailed,
    UnsafeDocument,
    UnsupportedDocument,
)
from shared.documents.extract import extract
from shared.documents.intake import Upload, inspect_upload
from shared.documents.lexical import query_terms, terms
from shared.documents.model import Block, BlockKind, Chunk, ExtractedDocument, MediaType
from shared.documents.safety import check_docx
from shared.documents.sniff import detect, sanitize_filename
from shared.documents.text import decode_text

__all__ = [
    "Block",
    "BlockKind",
    "Chunk",
    "DocumentError",
    "ExtractedDocument",
    "ExtractionFailed",
    "MediaType",
    "UnsafeDocument",
    "UnsupportedDocument",
    "Upload",
    "check_docx",
    "chunk",
    "decode_text",
    "detect",
    "extract",
    "inspect_upload",
    "query_terms",
    "sanitize_filename",
    "terms",
]
