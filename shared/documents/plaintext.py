"""Plain text (and a PDF page's text) into paragraphs and list items."""

from __future__ import annotations

import re

from shared.documents.blocks import BlockBuilder
from shared.documents.budget import check

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u3000]*\n")
_SENTENCE_END = re.compile(r"[.!?。…][\"'”’)\]]*[ \t]*$")
_BULLET = re.compile(r"^[ \t\u3000]*(?:[-*+•·‣▪▫◦●○■□◆◇▶►▸–—※✓✔]|\d{1,2}[.)])[ \t\u3000]+(?=\S)")


def add_text(builder: BlockBuilder, text: str) -> None:
    """Blank lines separate paragraphs; a bulleted line starts a list item; a line that
    ends a sentence ends its block; other lines continue the paragraph or item they
    follow (hard-wrapped text joins up)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for paragraph in _PARAGRAPH_BREAK.split(text):
        kind = "paragraph"
        lines: list[str] = []
        for line in paragraph.split("\n"):
            check()
            bullet = _BULLET.match(line)
            if bullet:
                _emit(builder, kind, lines)
                kind, lines = "item", [line[bullet.end() :]]
            else:
                lines.append(line)
            if _SENTENCE_END.search(line):
                _emit(builder, kind, lines)
                kind, lines = "paragraph", []
        _emit(builder, kind, lines)


def _emit(builder: BlockBuilder, kind: str, lines: list[str]) -> None:
    text = " ".join(lines)
    if kind == "item":
        builder.list_item(text)
    else:
        builder.paragraph(text)
