"""HTML to blocks with selectolax, keeping only what a reader sees.

Dropped: script, style, noscript, template and other non-content elements, and HIDDEN
text, a prompt-injection route: the ``hidden`` attribute, ``aria-hidden="true"``, inline
styles or simple ``<style>`` rules with ``display:none``, ``visibility:hidden``,
``opacity:0``, a font size of 0-1px, white or transparent text (unless an ancestor sets a
non-white background), clipping to nothing and off-screen positioning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

from shared.documents.blocks import BlockBuilder
from shared.documents.budget import check
from shared.documents.errors import ExtractionFailed

_SKIP = frozenset(
    {
        "script", "style", "noscript", "template", "head", "title", "meta", "link", "base",
        "svg", "math", "iframe", "frame", "frameset", "object", "embed", "applet", "canvas",
        "audio", "video", "picture", "img", "map", "select", "option", "datalist",
        "textarea", "input", "button", "nav", "param", "source", "track",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset(
    {
        "html", "body", "p", "div", "section", "article", "main", "header", "footer",
        "aside", "blockquote", "pre", "figure", "figcaption", "address", "dl", "dt", "dd",
        "ul", "ol", "menu", "table", "thead", "tbody", "tfoot", "caption", "form",
        "fieldset", "legend", "details", "summary", "hr", "center", "dialog", "hgroup",
        "search",
    }
)  # fmt: skip
_LISTS = frozenset({"ul", "ol", "menu"})

# Every pattern here is linear on any input (possessive quantifiers, matches that start
# only where a run starts): a 200 KB style attribute of letters took minutes before.
_DECLARATION = re.compile(r"(?<![a-zA-Z-])([a-zA-Z-]++)\s*+:\s*+([^;]++)")
_PX = re.compile(r"^(-?(?:\d++(?:\.\d*+)?|\.\d++))\s*+(px|pt|em|rem|%|vw|vh)?$")
_RGB = re.compile(
    r"^rgba?\(\s*([\d.]+%?)[\s,]+([\d.]+%?)[\s,]+([\d.]+%?)(?:[\s,/]+([\d.]+%?))?\s*\)$"
)
_HSL = re.compile(
    r"^hsla?\(\s*[\d.]+(?:deg)?[\s,]+[\d.]+%[\s,]+([\d.]+)%(?:[\s,/]+([\d.]+%?))?\s*\)$"
)
_NEAR_WHITE = 240  # every channel at least this bright reads as white on a white page
_OFFSCREEN_PX = -999
_WHITE_NAMES = frozenset({"white", "snow", "ivory", "ghostwhite", "whitesmoke", "floralwhite"})
# An unclosed comment runs to the end (as in CSS), in one linear match.
_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)


def add_html(builder: BlockBuilder, html: str) -> str | None:
    """Add the visible blocks of ``html``; return its ``<title>`` text, if any."""
    _check_depth(html)
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = title_node.text(deep=True) if title_node is not None else None
    root = tree.body or tree.root
    if root is None:
        return title
    hidden, dark_page = _stylesheet(tree)
    walker = _Walker(builder, hidden)
    walker.walk(root, _Context(on_background=dark_page or _dark_body(tree)))
    walker.flush()
    return title


MAX_DEPTH = 500  # real pages nest < 100 deep; lexbor's parse time grows with depth squared
_TAG_START = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*+)")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr", "keygen", "basefont", "bgsound", "frame", "isindex"}
)  # fmt: skip
_OPTIONAL_END = frozenset(
    {"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody",
     "tfoot", "colgroup", "caption", "rb", "rt", "rp", "rtc", "html", "head", "body"}
)  # fmt: skip


def _check_depth(html: str) -> None:
    """Refuse pathological nesting BEFORE parsing: 50,000 nested <div>s take lexbor
    seconds, a 10 MB file of them hours. Counts elements that need an end tag."""
    depth = 0
    position = 0
    while True:
        # A tag's start, then its ">" with str.find: linear, where one regex with
        # ``[^>]*`` rescanned the rest of the file from every "<a" that never closes.
        match = _TAG_START.search(html, position)
        if match is None:
            return
        end = html.find(">", match.end())
        if end < 0:
            return  # no tag closes after this point
        position = end + 1
        name = match.group(2).lower()
        if name in _VOID or name in _OPTIONAL_END or html[end - 1] == "/":
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
            continue
        depth += 1
        if depth > MAX_DEPTH:
            raise ExtractionFailed(
                f"the HTML nests elements more than {MAX_DEPTH} deep", code="parse_failed"
            )


@dataclass(frozen=True, slots=True)
class _Context:
    in_item: bool = False
    item_level: int = 0
    list_depth: int = 0
    on_background: bool = False  # an ancestor sets a non-white background


class _Walker:
    def __init__(self, builder: BlockBuilder, hidden_ids: set[int]) -> None:
        self.builder = builder
        self.hidden_ids = hidden_ids
        self.buffer: list[str] = []
        self.buffer_item: tuple[bool, int] = (False, 0)

    def flush(self) -> None:
        text = "".join(self.buffer)
        self.buffer = []
        in_item, level = self.buffer_item
        if in_item:
            self.builder.list_item(text, level)
        else:
            self.builder.paragraph(text)

    def write(self, text: str, context: _Context) -> None:
        where = (context.in_item, context.item_level)
        if self.buffer and where != self.buffer_item:
            self.flush()
        self.buffer_item = where
        self.buffer.append(text)

    def walk(self, node: LexborNode, context: _Context) -> None:
        for child in node.iter(include_text=True):
            check()
            tag = child.tag
            if tag == "-text":
                self.write(child.text(deep=False), context)
                continue
            if tag is None or tag.startswith("-") or tag in _SKIP:
                continue
            visible, child_context = self.visibility(child, context)
            if not visible:
                continue
            if tag in _HEADINGS:
                self.flush()
                self.builder.heading(visible_text(child, self, child_context), _HEADINGS[tag])
            elif tag == "tr":
                self.flush()
                cells = [
                    visible_text(cell, self, child_context)
                    for cell in child.iter()
                    if cell.tag in ("td", "th") and self.visibility(cell, child_context)[0]
                ]
                self.builder.table_row(cells)
            elif tag == "li":
                self.flush()
                level = max(context.list_depth, 1)
                self.walk(child, replace(child_context, in_item=True, item_level=level))
                self.flush()
            elif tag in _LISTS:
                self.flush()
                self.walk(child, replace(child_context, list_depth=context.list_depth + 1))
                self.flush()
            elif tag == "pre" and child.css_first("code") is not None:
                # A code block (<pre><code>, as Markdown writes one): its lines are kept,
                # and it is never a sentence to quote. Other preformatted text is prose.
                self.flush()
                self.builder.code(visible_text(child, self, child_context, keep_lines=True))
            elif tag in _BLOCKS:
                self.flush()
                self.walk(child, child_context)
                self.flush()
            elif tag == "br":
                self.write(" ", context)
            else:
                self.walk(child, child_context)

    def visibility(self, node: LexborNode, context: _Context) -> tuple[bool, _Context]:
        if node.mem_id in self.hidden_ids:
            return False, context
        attributes = node.attributes
        if "hidden" in attributes or (attributes.get("aria-hidden") or "").lower() == "true":
            return False, context
        if node.tag == "dialog" and "open" not in attributes:
            return False, context
        style = attributes.get("style")
        if not style:
            return True, context
        declarations = _declarations(style)
        background = _background(declarations)
        if background is not None:
            context = replace(context, on_background=background)
        return not hides(declarations, on_background=context.on_background), context


def visible_text(
    node: LexborNode, walker: _Walker, context: _Context, *, keep_lines: bool = False
) -> str:
    """The visible text under ``node``; ``keep_lines``: its line breaks kept (a ``pre``)."""
    parts: list[str] = []
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            parts.append(child.text(deep=False))
        elif tag == "br":
            parts.append("\n" if keep_lines else " ")
        elif tag is not None and not tag.startswith("-") and tag not in _SKIP:
            visible, child_context = walker.visibility(child, context)
            if visible:
                text = visible_text(child, walker, child_context, keep_lines=keep_lines)
                parts.append(f" {text} " if tag in _BLOCKS or tag in ("td", "th", "li") else text)
    return "".join(parts)


def _declarations(style: str) -> dict[str, str]:
    style = _COMMENT.sub("", style)
    return {
        name.strip().lower(): value.replace("!important", "").strip().lower()
        for name, value in _DECLARATION.findall(style)
    }


def _background(declarations: dict[str, str]) -> bool | None:
    """True if the declarations set a non-white background, False if white, else None."""
    value = declarations.get("background-color") or declarations.get("background")
    if not value:
        return None
    colour = value.split()[0] if not value.startswith(("rgb", "hsl")) else value
    if colour in ("transparent", "none", "inherit", "initial", "unset"):
        return None
    return not _is_white(colour)


def hides(declarations: dict[str, str], *, on_background: bool = False) -> bool:
    """Whether CSS declarations make an element's text invisible to a reader."""
    if declarations.get("display", "").startswith("none"):
        return True
    if declarations.get("visibility", "") in ("hidden", "collapse"):
        return True
    if _number(declarations.get("opacity", "")) == 0:
        return True
    font_size = declarations.get("font-size", "")
    size = _length(font_size)
    if size is not None and (size[0] <= 0 or (size[1] in ("px", "pt") and size[0] <= 1)):
        return True
    colour = declarations.get("color", "")
    if colour and (_is_transparent(colour) or (_is_white(colour) and not on_background)):
        return True
    clip = declarations.get("clip", "").replace(" ", "")
    if clip.startswith(("rect(0,0,0,0)", "rect(0px,0px,0px,0px)")) or clip == "rect(0000)":
        return True
    if declarations.get("clip-path", "").replace(" ", "") in ("inset(50%)", "inset(100%)"):
        return True
    for offset in ("left", "top", "text-indent", "margin-left"):
        length = _length(declarations.get(offset, ""))
        if length is not None and length[0] <= _OFFSCREEN_PX and length[1] in ("px", None):
            return True
    return False


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _length(value: str) -> tuple[float, str | None] | None:
    match = _PX.match(value.strip())
    if match is None:
        return None
    return float(match.group(1)), match.group(2)


def _channel(value: str) -> float:
    return float(value[:-1]) * 2.55 if value.endswith("%") else float(value)


def _alpha(value: str | None) -> float:
    if value is None:
        return 1.0
    return float(value[:-1]) / 100 if value.endswith("%") else float(value)


def _is_white(colour: str) -> bool:
    colour = colour.strip()
    if colour in _WHITE_NAMES:
        return True
    if colour.startswith("#"):
        digits = colour[1:]
        if len(digits) in (3, 4):
            digits = "".join(d * 2 for d in digits[:3])
        try:
            channels = [int(digits[i : i + 2], 16) for i in (0, 2, 4)]
        except ValueError:
            return False
        return all(c >= _NEAR_WHITE for c in channels)
    rgb = _RGB.match(colour)
    if rgb:
        try:
            return all(_channel(rgb.group(i)) >= _NEAR_WHITE for i in (1, 2, 3))
        except ValueError:
            return False
    hsl = _HSL.match(colour)
    if hsl:
        return float(hsl.group(1)) >= _NEAR_WHITE / 2.55
    return False


def _is_transparent(colour: str) -> bool:
    if colour == "transparent":
        return True
    for pattern, group in ((_RGB, 4), (_HSL, 2)):
        match = pattern.match(colour)
        if match and match.group(group) is not None:
            try:
                return _alpha(match.group(group)) == 0
            except ValueError:
                return False
    return False


_MAX_RULES = 2000
_PAGE_SELECTORS = frozenset({"html", "body", ":root", "*"})


def _stylesheet(tree: LexborHTMLParser) -> tuple[set[int], bool]:
    """Elements that top-level rules of the page's <style> sheets hide, and whether the
    sheets give the page a non-white background (then white text is not hidden text).

    Colour is judged only in inline styles, where the ancestors' backgrounds are known:
    in a sheet, ``p { color: #eee }`` is a dark theme far more often than a trick.
    """
    hidden: set[int] = set()
    dark_page = False
    rules = [rule for style in tree.css("style") for rule in _rules(style.text(deep=True))]
    for selectors, body in rules[:_MAX_RULES]:
        check()  # each rule is a query over the whole tree
        declarations = _declarations(body)
        names = {selector.strip().lower() for selector in selectors.split(",")}
        if names & _PAGE_SELECTORS and _background(declarations):
            dark_page = True
        if not hides({k: v for k, v in declarations.items() if k != "color"}):
            continue
        for selector in selectors.split(","):
            selector = selector.strip()
            if not selector or ":" in selector or "@" in selector:
                continue
            check()
            try:
                matched = tree.css(selector)
            except Exception:  # noqa: S112 - a selector lexbor cannot parse is skipped
                continue
            hidden.update(node.mem_id for node in matched)
    return hidden, dark_page


def _dark_body(tree: LexborHTMLParser) -> bool:
    for node in (tree.css_first("html"), tree.body):
        if node is None:
            continue
        attributes = node.attributes
        bgcolor = attributes.get("bgcolor")
        if bgcolor and not _is_white(bgcolor.lower()):
            return True
        if _background(_declarations(attributes.get("style") or "")):
            return True
    return False


def _rules(sheet: str) -> list[tuple[str, str]]:
    """Top-level ``selector { body }`` rules; at-rule blocks (@media...) are skipped."""
    sheet = _COMMENT.sub("", sheet)
    rules: list[tuple[str, str]] = []
    depth = 0
    start = 0
    selector = ""
    skipping = False
    for index, ch in enumerate(sheet):
        if ch == "{":
            if depth == 0:
                selector = sheet[start:index].strip()
                skipping = selector.startswith("@")
                start = index + 1
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                if not skipping:
                    rules.append((selector, sheet[start:index]))
                start = index + 1
        elif ch == ";" and depth == 0:
            start = index + 1  # @import ...; and other block-less at-rules
    return rules
