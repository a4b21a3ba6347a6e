"""DOCX to blocks: word/document.xml with heading levels from word/styles.xml.

Only after ``safety.read_docx`` has checked the container, and with defusedxml. Hidden
runs are dropped, an injection route: ``w:vanish``/``w:specVanish``, white (or
near-white, or the theme's background colour) text without a shading or highlight
behind it, and text smaller than 2 pt (``w:sz`` < 4 half-points) — set directly, by the
run's character style, the paragraph's style or the document defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from shared.documents.blocks import BlockBuilder
from shared.documents.errors import ExtractionFailed
from shared.documents.safety import parse_xml, read_docx

DOCUMENT_PART = "word/document.xml"
STYLES_PART = "word/styles.xml"
MIN_HALF_POINTS = 4
_NEAR_WHITE = 240
_HEADING_NAME = re.compile(r"^(?:heading|제목)\s*([1-9])$", re.IGNORECASE)
_HEADING_ID = re.compile(r"^heading([1-9])$", re.IGNORECASE)
_TITLE_NAMES = frozenset({"title", "제목"})
_FALSE = frozenset({"0", "false", "off"})
# Subtrees whose text is not the paragraph's visible text (deleted revisions, field
# instructions, the fallback copy of alternate content, drawings handled separately).
_SKIP = frozenset(
    {"pPr", "rPr", "del", "moveFrom", "instrText", "delText", "Fallback", "drawing", "pict",
     "object", "footnoteReference", "endnoteReference", "commentReference"}
)  # fmt: skip


def add_docx(builder: BlockBuilder, data: bytes) -> None:
    parts = read_docx(data, keep=(DOCUMENT_PART, STYLES_PART))
    if DOCUMENT_PART not in parts:
        raise ExtractionFailed("the DOCX has no word/document.xml", code="parse_failed")
    styles = _Styles.parse(parts.get(STYLES_PART))
    document = parse_xml(parts[DOCUMENT_PART], DOCUMENT_PART)
    body = _child(document, "body")
    if body is not None:
        _Reader(builder, styles).container(body, shaded=False)


def _local(element: Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local(c) == name), None)


def _val(element: Element | None, name: str = "val") -> str | None:
    if element is None:
        return None
    for key, value in element.attrib.items():
        if key == name or key.endswith("}" + name):
            return value
    return None


@dataclass(frozen=True, slots=True)
class _RunProps:
    vanish: bool | None = None
    color: str | None = None
    theme_color: str | None = None
    size: int | None = None
    shaded: bool | None = None

    def over(self, base: _RunProps) -> _RunProps:
        """These properties with ``base`` filling in what they leave unset."""
        return _RunProps(
            vanish=self.vanish if self.vanish is not None else base.vanish,
            color=self.color if self.color is not None else base.color,
            theme_color=self.theme_color if self.theme_color is not None else base.theme_color,
            size=self.size if self.size is not None else base.size,
            shaded=self.shaded if self.shaded is not None else base.shaded,
        )

    def hidden(self, *, shaded: bool) -> bool:
        if self.vanish:
            return True
        if self.size is not None and self.size < MIN_HALF_POINTS:
            return True
        white = _is_white(self.color) or (self.theme_color or "").lower() in (
            "background1",
            "bg1",
        )
        return white and not (shaded or self.shaded)

    @staticmethod
    def parse(rpr: Element | None) -> _RunProps:
        if rpr is None:
            return _RunProps()
        vanish: bool | None = None
        color = theme_color = None
        size: int | None = None
        shaded: bool | None = None
        for element in rpr:
            name = _local(element)
            if name in ("vanish", "specVanish", "webHidden"):
                vanish = (_val(element) or "true").lower() not in _FALSE
            elif name == "color":
                color = _val(element)
                theme_color = _val(element, "themeColor")
            elif name == "sz":
                try:
                    size = int(_val(element) or "")
                except ValueError:
                    size = None
            elif name == "highlight":
                shaded = (_val(element) or "none").lower() not in ("none", "white")
            elif name == "shd":
                shaded = _dark_fill(_val(element, "fill"))
        return _RunProps(vanish, color, theme_color, size, shaded)


def _is_white(color: str | None) -> bool:
    if not color or len(color) != 6:
        return False
    try:
        return all(int(color[i : i + 2], 16) >= _NEAR_WHITE for i in (0, 2, 4))
    except ValueError:
        return False


def _dark_fill(fill: str | None) -> bool:
    return bool(fill) and (fill or "").lower() != "auto" and not _is_white(fill)


@dataclass(frozen=True, slots=True)
class _Style:
    name: str
    based_on: str | None
    outline_level: int | None
    numbered: bool
    run: _RunProps


class _Styles:
    def __init__(self, styles: dict[str, _Style], defaults: _RunProps) -> None:
        self.styles = styles
        self.defaults = defaults

    @classmethod
    def parse(cls, data: bytes | None) -> _Styles:
        if data is None:
            return cls({}, _RunProps())
        root = parse_xml(data, STYLES_PART)
        defaults = _RunProps()
        doc_defaults = _child(root, "docDefaults")
        if doc_defaults is not None:
            rpr_default = _child(doc_defaults, "rPrDefault")
            if rpr_default is not None:
                defaults = _RunProps.parse(_child(rpr_default, "rPr"))
        styles: dict[str, _Style] = {}
        for style in root:
            if _local(style) != "style":
                continue
            style_id = _val(style, "styleId")
            if not style_id:
                continue
            ppr = _child(style, "pPr")
            outline = _val(_child(ppr, "outlineLvl")) if ppr is not None else None
            styles[style_id] = _Style(
                name=(_val(_child(style, "name")) or "").strip(),
                based_on=_val(_child(style, "basedOn")),
                outline_level=int(outline) if outline and outline.isdigit() else None,
                numbered=ppr is not None and _child(ppr, "numPr") is not None,
                run=_RunProps.parse(_child(style, "rPr")),
            )
        return cls(styles, defaults)

    def chain(self, style_id: str | None) -> list[_Style]:
        chain: list[_Style] = []
        seen: set[str] = set()
        while style_id and style_id not in seen and style_id in self.styles:
            seen.add(style_id)
            style = self.styles[style_id]
            chain.append(style)
            style_id = style.based_on
        return chain

    def heading_level(self, style_id: str | None) -> int | None:
        for style in self.chain(style_id):
            match = _HEADING_NAME.match(style.name)
            if match:
                return int(match.group(1))
            if style.name.lower() in _TITLE_NAMES:
                return 1
            if style.outline_level is not None and style.outline_level < 9:
                return style.outline_level + 1
        if style_id:
            match = _HEADING_ID.match(style_id)
            if match:
                return int(match.group(1))
            if style_id.lower() == "title":
                return 1
        return None

    def numbered(self, style_id: str | None) -> bool:
        return any(style.numbered for style in self.chain(style_id))

    def run_props(self, style_id: str | None) -> _RunProps:
        props = _RunProps()
        for style in self.chain(style_id):  # nearest style first: it wins over its bases
            props = props.over(style.run)
        return props


class _Reader:
    def __init__(self, builder: BlockBuilder, styles: _Styles) -> None:
        self.builder = builder
        self.styles = styles

    def container(self, element: Element, *, shaded: bool) -> None:
        """Block-level content: paragraphs, tables, content controls, revisions."""
        for child in element:
            name = _local(child)
            if name == "p":
                self.paragraph(child, shaded=shaded)
            elif name == "tbl":
                self.table(child, shaded=shaded)
            elif name in ("sectPr", "del", "moveFrom", "Fallback", "tblPr", "tblGrid"):
                continue
            else:  # sdt, sdtContent, customXml, ins, moveTo, AlternateContent, Choice
                self.container(child, shaded=shaded)

    def paragraph(self, paragraph: Element, *, shaded: bool) -> None:
        ppr = _child(paragraph, "pPr")
        style_id = _val(_child(ppr, "pStyle")) if ppr is not None else None
        if ppr is not None and _dark_fill(_val(_child(ppr, "shd"), "fill")):
            shaded = True
        base = self.styles.run_props(style_id).over(self.styles.defaults)
        text = "".join(self._runs(paragraph, base, shaded))
        level = self.styles.heading_level(style_id)
        outline = _val(_child(ppr, "outlineLvl")) if ppr is not None else None
        if outline and outline.isdigit() and int(outline) < 9:
            level = int(outline) + 1
        numbering = _child(ppr, "numPr") if ppr is not None else None
        if level is not None:
            self.builder.heading(text, level)
        elif numbering is not None and _val(_child(numbering, "numId")) != "0":
            depth = _val(_child(numbering, "ilvl"))
            self.builder.list_item(text, int(depth) + 1 if depth and depth.isdigit() else 1)
        elif numbering is None and self.styles.numbered(style_id):
            self.builder.list_item(text, 1)
        else:
            self.builder.paragraph(text)
        for box in _text_boxes(paragraph):
            self.container(box, shaded=shaded)

    def _runs(self, element: Element, base: _RunProps, shaded: bool) -> list[str]:
        parts: list[str] = []
        for child in element:
            name = _local(child)
            if name in _SKIP:
                continue
            if name == "r":
                parts.extend(self._run(child, base, shaded))
            elif name != "p":  # hyperlink, ins, smartTag, fldSimple, sdt, customXml...
                parts.extend(self._runs(child, base, shaded))
        return parts

    def _run(self, run: Element, base: _RunProps, shaded: bool) -> list[str]:
        rpr = _child(run, "rPr")
        run_style = _val(_child(rpr, "rStyle")) if rpr is not None else None
        props = _RunProps.parse(rpr).over(self.styles.run_props(run_style)).over(base)
        if props.hidden(shaded=shaded):
            return []
        parts: list[str] = []
        for child in run:
            name = _local(child)
            if name == "t":
                parts.append(child.text or "")
            elif name in ("tab", "ptab"):
                parts.append("\t")
            elif name in ("br", "cr"):
                parts.append(" ")
            elif name == "noBreakHyphen":
                parts.append("-")
            elif name == "AlternateContent":
                parts.extend(self._runs(child, base, shaded))
        return parts

    def table(self, table: Element, *, shaded: bool) -> None:
        for row in table:
            name = _local(row)
            if name == "tr":
                cells = [
                    self._cell_text(cell, shaded=shaded) for cell in row if _local(cell) == "tc"
                ]
                self.builder.table_row(cells)
            elif name in ("sdt", "sdtContent", "customXml", "ins"):
                self.table(row, shaded=shaded)

    def _cell_text(self, cell: Element, *, shaded: bool) -> str:
        tcpr = _child(cell, "tcPr")
        if tcpr is not None and _dark_fill(_val(_child(tcpr, "shd"), "fill")):
            shaded = True
        collector = BlockBuilder()
        _Reader(collector, self.styles).container(cell, shaded=shaded)
        return " ".join(block.text for block in collector.blocks)


def _text_boxes(paragraph: Element) -> list[Element]:
    """Text boxes in the paragraph's drawings, not the duplicate in ``mc:Fallback``."""
    boxes: list[Element] = []
    stack = [c for c in reversed(paragraph) if _local(c) != "pPr"]
    while stack:
        element = stack.pop()
        name = _local(element)
        if name == "Fallback":
            continue
        if name == "txbxContent":
            boxes.append(element)
            continue
        stack.extend(reversed(element))
    return boxes
