"""Sample documents built in code: PDFs by hand, DOCX with zipfile, text in encodings."""

from __future__ import annotations

import io
import zipfile
import zlib

# --- PDF -----------------------------------------------------------------------------


def _cmap(codes: dict[str, int]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    items = sorted(codes.items(), key=lambda item: item[1])
    for start in range(0, len(items), 100):
        batch = items[start : start + 100]
        lines.append(f"{len(batch)} beginbfchar")
        lines.extend(f"<{cid:04X}> <{ord(ch):04X}>" for ch, cid in batch)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


def _stream(body: bytes, *, compress: bool = False) -> bytes:
    if compress:
        body = zlib.compress(body, 9)
        return f"<< /Length {len(body)} /Filter /FlateDecode >>\nstream\n".encode() + (
            body + b"\nendstream"
        )
    return f"<< /Length {len(body)} >>\nstream\n".encode() + body + b"\nendstream"


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def make_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF; each page a list of lines, any Unicode (a Type0 font with ToUnicode)."""
    codes: dict[str, int] = {}
    for lines in pages:
        for line in lines:
            for ch in line:
                codes.setdefault(ch, len(codes) + 1)
    # 1 catalog, 2 pages, 3 font, 4 descendant, 5 descriptor, 6 ToUnicode, then pairs
    kids = " ".join(f"{7 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /Sample /Encoding /Identity-H"
        b" /DescendantFonts [4 0 R] /ToUnicode 6 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Sample /CIDSystemInfo"
        b" << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        b" /FontDescriptor 5 0 R /DW 600 >>",
        b"<< /Type /FontDescriptor /FontName /Sample /Flags 4 /FontBBox [0 0 1000 1000]"
        b" /ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 >>",
        _stream(_cmap(codes)),
    ]
    for index, lines in enumerate(pages):
        content = [b"BT /F1 11 Tf 72 760 Td 14 TL"]
        for line in lines:
            glyphs = "".join(f"{codes[ch]:04X}" for ch in line)
            content.append(f"<{glyphs}> Tj T*".encode())
        content.append(b"ET")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            f" /Resources << /Font << /F1 3 0 R >> >> /Contents {8 + 2 * index} 0 R >>".encode()
        )
        objects.append(_stream(b"\n".join(content)))
    return _assemble(objects)


def make_raw_pdf(content: bytes, *, compress: bool = True) -> bytes:
    """A one-page PDF with the given content stream and a standard font (for bombs)."""
    return _assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
            _stream(content, compress=compress),
        ]
    )


def slow_pdf(operations: int = 200_000) -> bytes:
    """A few KB that keep pypdf busy for many seconds (text-position operators)."""
    return make_raw_pdf(b"BT /F1 12 Tf " + b"1 0 Td (a) Tj\n" * operations + b"ET")


def memory_bomb_pdf(size: int = 70_000_000) -> bytes:
    """~70 KB that decompress to one 70 MB string: pypdf needs far more than 256 MiB."""
    return make_raw_pdf(b"BT /F1 12 Tf 72 720 Td (" + b"A" * size + b") Tj ET")


# --- DOCX ----------------------------------------------------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "application/vnd.openxmlformats"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Types xmlns="{_PACKAGE}/content-types">'
    f'<Default Extension="rels" ContentType="{_OFFICE}-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="'
    f'{_OFFICE}-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Relationships xmlns="{_PACKAGE}/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def _style(kind: str, style_id: str, name: str, inner: str = "") -> str:
    return (
        f'<w:style w:type="{kind}" w:styleId="{style_id}"><w:name w:val="{name}"/>{inner}</w:style>'
    )


_BASED_ON_NORMAL = '<w:basedOn w:val="Normal"/>'
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles xmlns:w="{W}">'
    '<w:docDefaults><w:rPrDefault><w:rPr><w:sz w:val="22"/></w:rPr></w:rPrDefault>'
    "</w:docDefaults>"
    + _style("paragraph", "Normal", "Normal")
    + _style("paragraph", "Title", "Title", _BASED_ON_NORMAL)
    + _style(
        "paragraph",
        "Heading1",
        "heading 1",
        _BASED_ON_NORMAL + '<w:pPr><w:outlineLvl w:val="0"/></w:pPr>',
    )
    # Korean Word names its built-in heading styles by number: styleId "2", name "heading 2".
    + _style("paragraph", "2", "heading 2", _BASED_ON_NORMAL)
    + _style("paragraph", "a5", "제목 3", _BASED_ON_NORMAL)
    + _style("character", "Secret", "Secret", "<w:rPr><w:vanish/></w:rPr>")
    + "</w:styles>"
)


def paragraph(text: str, *, style: str | None = None, rpr: str = "", numbered: int = -1) -> str:
    ppr = ""
    if style or numbered >= 0:
        ppr = "<w:pPr>"
        if style:
            ppr += f'<w:pStyle w:val="{style}"/>'
        if numbered >= 0:
            ppr += f'<w:numPr><w:ilvl w:val="{numbered}"/><w:numId w:val="1"/></w:numPr>'
        ppr += "</w:pPr>"
    return f"<w:p>{ppr}{run(text, rpr=rpr)}</w:p>"


def run(text: str, *, rpr: str = "") -> str:
    properties = f"<w:rPr>{rpr}</w:rPr>" if rpr else ""
    return f'<w:r>{properties}<w:t xml:space="preserve">{text}</w:t></w:r>'


def document_xml(body: str, *, prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
        f'<w:document xmlns:w="{W}"><w:body>{body}<w:sectPr/></w:body></w:document>'
    )


def make_docx(
    body: str = "",
    *,
    document: str | None = None,
    styles: str | None = STYLES,
    extra: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("word/document.xml", document or document_xml(body))
        if styles is not None:
            archive.writestr("word/styles.xml", styles)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
