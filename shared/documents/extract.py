"""Bytes of a sniffed document to an ``ExtractedDocument``: a title and blocks.

Titles: the first heading; else the HTML ``<title>`` or Markdown front-matter title;
else the sanitised file name without its extension; else "Untitled document".
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from markdown_it import MarkdownIt

from shared.documents.blocks import BlockBuilder
from shared.documents.budget import check
from shared.documents.docx import add_docx
from shared.documents.errors import ExtractionFailed
from shared.documents.htmltext import add_html
from shared.documents.model import ExtractedDocument, MediaType
from shared.documents.pdf import pdf_pages
from shared.documents.plaintext import add_text
from shared.documents.sniff import sanitize_filename
from shared.documents.text import clean_text, decode_text

UNTITLED = "Untitled document"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*+(\S(?:.*\S)?)", re.MULTILINE)  # linear


def extract(
    data: bytes, media_type: MediaType, *, filename: str | None = None
) -> ExtractedDocument:
    """Extract the visible text of ``data`` as structured blocks.

    Raises ``UnsafeDocument`` (a DOCX that fails the safety check) or
    ``ExtractionFailed`` (``parse_failed``, ``no_text``, ``too_much_text``).
    """
    builder = BlockBuilder()
    fallback_title: str | None = None
    try:
        if media_type is MediaType.PDF:
            for number, page in enumerate(pdf_pages(data), start=1):
                builder.set_base((f"p. {number}",))
                add_text(builder, page)
        elif media_type is MediaType.DOCX:
            add_docx(builder, data)
        elif media_type is MediaType.HTML:
            fallback_title = add_html(builder, decode_text(data).text)
        elif media_type is MediaType.MARKDOWN:
            fallback_title = _add_markdown(builder, decode_text(data).text)
        else:
            add_text(builder, decode_text(data).text)
    except RecursionError:
        raise ExtractionFailed(
            "the document is nested too deeply to read", code="parse_failed"
        ) from None
    if not builder.blocks:
        raise ExtractionFailed(
            "no readable text was found in the document"
            + (
                " (is it a scanned image? upload a PDF with a text layer)"
                if media_type is MediaType.PDF
                else ""
            ),
            code="no_text",
        )
    title = builder.first_heading() or _clean_title(fallback_title) or _filename_title(filename)
    return ExtractedDocument(title=title, blocks=builder.blocks)


def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML kept, so that the HTML pass can drop hidden inline HTML.
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # markdown-it is pure Python and slow on adversarial input (1M list markers: 13 s,
    # "[" * 2M: 16 s): a first rule in the block and inline chains checks the budget at
    # every block start, line and inline token, and never matches.
    # "alt": also asked at every line of a paragraph, list or quote (as a terminator).
    md.block.ruler.before(
        "table",
        "time_budget",
        _block_budget,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.inline.ruler.before("text", "time_budget", _inline_budget)
    return md


def _block_budget(state: object, start_line: int, end_line: int, silent: bool) -> bool:
    check()
    return False


def _inline_budget(state: object, silent: bool) -> bool:
    check()
    return False


def _add_markdown(builder: BlockBuilder, text: str) -> str | None:
    """Markdown is rendered to HTML, then read like HTML: one reader for headings, lists,
    tables and hidden text."""
    title = None
    front = _FRONT_MATTER.match(text)
    if front is not None:
        found = _FRONT_TITLE.search(front.group(1))
        title = found.group(1).strip("'\"") if found else None
        text = text[front.end() :]
    add_html(builder, _markdown().render(text))
    return title


def _clean_title(title: str | None) -> str | None:
    return clean_text(title)[:300] or None if title else None


def _filename_title(filename: str | None) -> str:
    if not filename:
        return UNTITLED
    stem = PurePosixPath(sanitize_filename(filename)).stem
    return clean_text(stem.replace("_", " ")) or UNTITLED
