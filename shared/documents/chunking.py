"""Chunks along the document's structure, sentence-aware for Korean and English.

- A heading starts a section; a chunk never spans two sections. Headings with no text
  of their own are carried into the next chunk's text (they are also in its path).
- Paragraphs are cut into sentences and packed up to ``target_chars``; a chunk may
  grow to ``max_chars`` rather than end up less than half full. A sentence is never
  split, unless it alone exceeds ``max_chars`` (then at a space, or hard).
- List items and table rows stay whole (unless one alone exceeds ``max_chars``).
- A code block keeps its lines, between fence lines (```), so that an answerer can
  tell code from prose; a long one is cut between lines.
- Within a section, a chunk starts with the last ``overlap_sentences`` sentences of the
  previous one, for context.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.documents.budget import check
from shared.documents.model import FENCE, Block, BlockKind, Chunk, ExtractedDocument
from shared.documents.sentences import language, split_sentences

TARGET_CHARS = 900
MAX_CHARS = 1400
OVERLAP_SENTENCES = 1


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    block: int  # index of the block it came from: same block joins with " ", else "\n"
    sentence: bool  # a sentence of a paragraph (may be repeated as overlap)


def chunk(
    doc: ExtractedDocument,
    *,
    target_chars: int = TARGET_CHARS,
    max_chars: int = MAX_CHARS,
    overlap_sentences: int = OVERLAP_SENTENCES,
) -> list[Chunk]:
    if not 0 < target_chars <= max_chars:
        raise ValueError("need 0 < target_chars <= max_chars")
    if overlap_sentences < 0:
        raise ValueError("overlap_sentences must be >= 0")
    packer = _Packer(doc.title, target_chars, max_chars, overlap_sentences)
    pending_headings: list[_Unit] = []
    section: tuple[str, ...] | None = None
    for index, block in enumerate(doc.blocks):
        check()
        if block.kind is BlockKind.HEADING:
            packer.end_section()
            pending_headings.append(_Unit(block.text, index, sentence=False))
            section = block.section_path
            continue
        if block.section_path != section:
            packer.end_section()
            section = block.section_path
        if pending_headings:
            packer.start(block.section_path, pending_headings)
            pending_headings = []
        for unit in _units(block, index, max_chars):
            packer.add(block.section_path, unit)
    packer.end_section()
    if pending_headings and section is not None:  # trailing headings with no text
        packer.start(section, pending_headings)
        packer.fresh = len(pending_headings)
        packer.end_section()
    return packer.chunks


def _units(block: Block, index: int, max_chars: int) -> list[_Unit]:
    if block.kind is BlockKind.CODE:
        return [_Unit(f"{FENCE}\n{piece}\n{FENCE}", index, False)
                for piece in _line_split(block.text, max_chars - 2 * len(FENCE) - 2)]  # fmt: skip
    if block.kind is BlockKind.PARAGRAPH:
        pieces = split_sentences(block.text)
        return [_Unit(p, index, True) for s in pieces for p in _hard_split(s, max_chars)]
    if len(block.text) <= max_chars:
        return [_Unit(block.text, index, False)]
    pieces = split_sentences(block.text) if block.kind is BlockKind.LIST_ITEM else [block.text]
    return [_Unit(p, index, False) for s in pieces for p in _hard_split(s, max_chars)]


def _hard_split(text: str, max_chars: int) -> list[str]:
    """A sentence longer than ``max_chars``, cut at the last space before the limit."""
    pieces: list[str] = []
    while len(text) > max_chars:
        check()
        cut = text.rfind(" ", max_chars // 2, max_chars + 1)
        if cut <= 0:
            cut = max_chars
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return pieces


def _line_split(text: str, max_chars: int) -> list[str]:
    """A code block in pieces of whole lines of at most ``max_chars`` (a longer line
    alone is cut)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for part in _hard_split(line, max_chars):
            if current and size + 1 + len(part) > max_chars:
                pieces.append("\n".join(current))
                current, size = [], 0
            size += len(part) + (1 if current else 0)
            current.append(part)
    if current:
        pieces.append("\n".join(current))
    return pieces


def _join(units: list[_Unit]) -> str:
    parts: list[str] = []
    previous: _Unit | None = None
    for unit in units:
        if previous is not None:
            parts.append(" " if unit.block == previous.block else "\n")
        parts.append(unit.text)
        previous = unit
    return "".join(parts)


def _length(units: list[_Unit]) -> int:
    return sum(len(u.text) for u in units) + max(len(units) - 1, 0)


class _Packer:
    def __init__(self, title: str, target: int, maximum: int, overlap: int) -> None:
        self.title = title
        self.target = target
        self.maximum = maximum
        self.overlap = overlap
        self.chunks: list[Chunk] = []
        self.units: list[_Unit] = []
        self.path: tuple[str, ...] = ()
        self.fresh = 0  # units in the current chunk that are not overlap or headings

    def start(self, path: tuple[str, ...], headings: list[_Unit]) -> None:
        self.end_section()
        self.path = path
        self.units = list(headings)

    def add(self, path: tuple[str, ...], unit: _Unit) -> None:
        if not self.units:
            self.path = path
        size = _length(self.units)
        grown = size + len(unit.text) + (1 if self.units else 0)
        if self.fresh and (
            grown > self.maximum or (grown > self.target and size >= self.target // 2)
        ):
            previous = self.units
            self._emit()
            self.units = self._overlap(previous, unit)
        self.units.append(unit)
        self.fresh += 1

    def _overlap(self, previous: list[_Unit], unit: _Unit) -> list[_Unit]:
        if not self.overlap or not unit.sentence:
            return []
        tail: list[_Unit] = []
        for candidate in reversed(previous):
            if not candidate.sentence or len(tail) == self.overlap:
                break
            tail.insert(0, candidate)
        if _length([*tail, unit]) > self.maximum or _length(tail) > self.target // 2:
            return []
        return tail

    def end_section(self) -> None:
        if self.fresh:
            self._emit()
        self.units = []
        self.fresh = 0

    def _emit(self) -> None:
        text = _join(self.units)
        self.chunks.append(
            Chunk(
                ordinal=len(self.chunks),
                text=text,
                section_path=self.path,
                title=self.title,
                language=language(text),
            )
        )
        self.units = []
        self.fresh = 0
