"""Building the block list: section paths from headings, clean text, a size bound."""

from __future__ import annotations

from shared.documents.budget import check
from shared.documents.errors import ExtractionFailed
from shared.documents.model import ESCAPED_FENCE, FENCE, Block, BlockKind
from shared.documents.text import clean_text

MAX_TEXT_CHARS = 2_000_000  # about 700 pages; a bound on chunks, vectors and the LLM bill
MAX_HEADING_LEVEL = 9


class BlockBuilder:
    """Collects blocks in reading order and tracks the heading stack."""

    def __init__(self, *, base_path: tuple[str, ...] = ()) -> None:
        self.blocks: list[Block] = []
        self._base = base_path
        self._headings: list[tuple[int, str]] = []
        self._chars = 0

    @property
    def section_path(self) -> tuple[str, ...]:
        return self._base + tuple(text for _, text in self._headings)

    def set_base(self, base_path: tuple[str, ...]) -> None:
        """Sections above every heading (a PDF's page); resets the heading stack."""
        self._base = base_path
        self._headings = []

    def heading(self, text: str, level: int) -> None:
        text = clean_text(text)
        if not text:
            return
        level = min(max(level, 1), MAX_HEADING_LEVEL)
        while self._headings and self._headings[-1][0] >= level:
            self._headings.pop()
        self._headings.append((level, text))
        self._add(Block(BlockKind.HEADING, text, level, self.section_path))

    def paragraph(self, text: str) -> None:
        self._content(BlockKind.PARAGRAPH, text, 0)

    def list_item(self, text: str, level: int = 1) -> None:
        self._content(BlockKind.LIST_ITEM, text, max(level, 1))

    def table_row(self, cells: list[str]) -> None:
        self._content(BlockKind.TABLE_ROW, " | ".join(c for c in map(clean_text, cells) if c), 0)

    def code(self, text: str) -> None:
        """A code block: each line cleaned, blank lines dropped, the lines kept."""
        lines = [_unfenced(line) for line in map(clean_text, text.split("\n")) if line]
        if lines:
            self._add(Block(BlockKind.CODE, "\n".join(lines), 0, self.section_path))

    def _content(self, kind: BlockKind, text: str, level: int) -> None:
        text = _unfenced(clean_text(text))
        if text:
            self._add(Block(kind, text, level, self.section_path))

    def _add(self, block: Block) -> None:
        check()
        self._chars += len(block.text)
        if self._chars > MAX_TEXT_CHARS:
            raise ExtractionFailed(
                f"the document has more than {MAX_TEXT_CHARS:,} characters of text; "
                "split it into smaller documents",
                code="too_much_text",
            )
        self.blocks.append(block)

    def first_heading(self) -> str | None:
        return next((b.text for b in self.blocks if b.kind is BlockKind.HEADING), None)


def _unfenced(line: str) -> str:
    """A line that is exactly the fence marker, escaped (see ``model.FENCE``)."""
    return ESCAPED_FENCE if line == FENCE else line
