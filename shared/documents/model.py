"""The values that flow through intake: media types, extracted blocks, chunks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MediaType(StrEnum):
    """A document type we accept, decided from the bytes (see ``sniff.detect``)."""

    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    HTML = "text/html"
    MARKDOWN = "text/markdown"
    TEXT = "text/plain"

    @property
    def extension(self) -> str:
        """The canonical file extension, with its dot."""
        return _EXTENSIONS[self]

    @property
    def is_text(self) -> bool:
        """HTML, Markdown and plain text: flavours of one decoded text."""
        return self in (MediaType.HTML, MediaType.MARKDOWN, MediaType.TEXT)


_EXTENSIONS = {
    MediaType.PDF: ".pdf",
    MediaType.DOCX: ".docx",
    MediaType.HTML: ".html",
    MediaType.MARKDOWN: ".md",
    MediaType.TEXT: ".txt",
}


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    TABLE_ROW = "table_row"
    CODE = "code"  # preformatted text (a code block): kept whole, its lines kept


# A code block's lines sit between two lines of exactly this in a chunk's text; a line of
# a document that is exactly this is written ESCAPED_FENCE, so it never opens or closes one.
FENCE = "```"
ESCAPED_FENCE = "`` `"


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit of a document, in reading order.

    ``level`` is 1-9 for a heading, the nesting depth (1 = top) for a list item and 0
    otherwise. ``section_path`` is the chain of headings the block sits under; a
    heading's own path ends with itself. PDF blocks sit under their page (``"p. 3"``).
    """

    kind: BlockKind
    text: str
    level: int = 0
    section_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    title: str
    blocks: list[Block]

    @property
    def text(self) -> str:
        return "\n".join(block.text for block in self.blocks)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieval unit: text plus what a citation needs (title, section path)."""

    ordinal: int
    text: str
    section_path: tuple[str, ...]
    title: str
    language: str  # "ko" or "en"

    @property
    def section(self) -> str:
        """The section path as one citation label: ``"Experience > Acme"``."""
        return " > ".join(self.section_path)
