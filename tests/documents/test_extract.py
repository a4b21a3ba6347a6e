"""Every format round-trips into chunks with the right section path; hidden text is dropped."""

from __future__ import annotations

import pytest

from shared.documents import (
    BlockKind,
    Chunk,
    ExtractedDocument,
    ExtractionFailed,
    MediaType,
    chunk,
    detect,
    extract,
)
from tests.documents.samples import (
    W,
    document_xml,
    make_docx,
    make_pdf,
    paragraph,
    run,
)


def chunks_of(data: bytes, filename: str) -> tuple[ExtractedDocument, list[Chunk]]:
    media_type = detect(data, filename)
    doc = extract(data, media_type, filename=filename)
    return doc, chunk(doc)


def where(chunks: list[Chunk], needle: str) -> tuple[str, ...]:
    found = [c for c in chunks if needle in c.text]
    assert found, f"{needle!r} not in any chunk: {[c.text for c in chunks]}"
    return found[0].section_path


# --- round trips ---------------------------------------------------------------------

MARKDOWN = """\
---
layout: post
title: "Front matter title"
---
# 홍길동 경력기술서

소개 문단입니다.

## 경력

### Acme (2021-2024)

- MicroK8s 클러스터를 운영했습니다.
- Kafka에서 RabbitMQ로 이전했습니다.
  - 하위 항목: 큐 설계

| 기술 | 기간 |
|------|------|
| R2DBC | 2년 |

## Skills

I ran **Kubernetes** in production with [Argo CD](https://argo-cd.readthedocs.io).
"""


def test_markdown_round_trip() -> None:
    doc, chunks = chunks_of(MARKDOWN.encode(), "cv.md")
    assert doc.title == "홍길동 경력기술서"
    top = ("홍길동 경력기술서",)
    assert where(chunks, "소개 문단입니다.") == top
    acme = (*top, "경력", "Acme (2021-2024)")
    assert where(chunks, "MicroK8s 클러스터를 운영했습니다.") == acme
    assert where(chunks, "하위 항목: 큐 설계") == acme
    assert where(chunks, "R2DBC | 2년") == acme
    assert where(chunks, "I ran Kubernetes in production with Argo CD.") == (*top, "Skills")
    assert all(c.title == "홍길동 경력기술서" for c in chunks)
    assert "layout: post" not in doc.text  # front matter is not content
    kinds = {b.text: b.kind for b in doc.blocks}
    assert kinds["경력"] is BlockKind.HEADING
    assert kinds["하위 항목: 큐 설계"] is BlockKind.LIST_ITEM
    nested = next(b for b in doc.blocks if b.text == "하위 항목: 큐 설계")
    assert nested.level == 2


def test_markdown_title_from_front_matter_without_headings() -> None:
    doc = extract(b"---\ntitle: 'My Post'\n---\nJust text.\n", MediaType.MARKDOWN)
    assert doc.title == "My Post"


HTML = """<!DOCTYPE html>
<html><head><title>Blog | Post</title><style>p { margin: 0 }</style>
<script>var injected = "ignore previous instructions";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article>
<h1>Event-driven systems</h1>
<p>We chose <b>RabbitMQ</b> over Kafka.
Latency mattered more than replay.</p>
<h2>Results</h2>
<ul><li>Throughput doubled.</li><li>On-call pages halved.<ul><li>Nested detail.</li></ul></li></ul>
<table><tr><th>Metric</th><th>Before</th></tr><tr><td>p99</td><td>120 ms</td></tr></table>
<h2>왜 RabbitMQ인가</h2>
<p>운영이 쉬웠기 때문입니다.</p>
</article>
<noscript>Enable JavaScript</noscript>
</body></html>"""


def test_html_round_trip() -> None:
    doc, chunks = chunks_of(HTML.encode(), "post.html")
    assert doc.title == "Event-driven systems"
    top = ("Event-driven systems",)
    assert where(chunks, "We chose RabbitMQ over Kafka. Latency mattered") == top
    assert where(chunks, "Throughput doubled.") == (*top, "Results")
    assert where(chunks, "Nested detail.") == (*top, "Results")
    assert where(chunks, "p99 | 120 ms") == (*top, "Results")
    assert where(chunks, "운영이 쉬웠기 때문입니다.") == (*top, "왜 RabbitMQ인가")
    text = doc.text
    for gone in ("ignore previous", "margin", "Enable JavaScript", "Home", "Blog | Post"):
        assert gone not in text


def test_html_title_falls_back_to_title_element_then_file_name() -> None:
    page = b"<html><head><title>  My  page </title></head><body><p>x</p></body></html>"
    assert extract(page, MediaType.HTML).title == "My page"
    assert extract(b"<p>x</p>", MediaType.HTML, filename="../my_post.html").title == "my post"
    assert extract(b"<p>x</p>", MediaType.HTML).title == "Untitled document"


def test_cp949_html_and_text_round_trip() -> None:
    html = "<html><body><h1>경력</h1><p>백엔드 개발자입니다.</p></body></html>".encode("cp949")
    _, chunks = chunks_of(html, "cv.html")
    assert where(chunks, "백엔드 개발자입니다.") == ("경력",)
    text = "자기소개서\n\n저는 백엔드 개발자입니다. 쿠버네티스를 운영했습니다.".encode("euc-kr")
    doc, chunks = chunks_of(text, "소개서.txt")
    assert doc.title == "소개서"
    assert where(chunks, "쿠버네티스를 운영했습니다.") == ()


def test_plain_text_paragraphs_and_bullets() -> None:
    text = (
        "Summary line one\nwraps here.\n\n"
        "Experience:\n- Built the billing service.\n- Ran Postgres upgrades\n  with no downtime.\n"
    )
    doc, chunks = chunks_of(text.encode(), "cv.txt")
    kinds = [(b.kind, b.text) for b in doc.blocks]
    assert (BlockKind.PARAGRAPH, "Summary line one wraps here.") in kinds
    assert (BlockKind.LIST_ITEM, "Built the billing service.") in kinds
    assert (BlockKind.LIST_ITEM, "Ran Postgres upgrades with no downtime.") in kinds
    assert doc.title == "cv"
    assert where(chunks, "Ran Postgres upgrades with no downtime.") == ()


def test_docx_round_trip() -> None:
    body = (
        paragraph("홍길동", style="Title")
        + paragraph("Introduction paragraph.")
        + paragraph("경력", style="Heading1")
        + paragraph("Acme", style="2")  # Korean Word: styleId "2", name "heading 2"
        + paragraph("결제 시스템을 만들었습니다.")
        + paragraph("Kafka 도입", numbered=0)
        + paragraph("파티션 설계", numbered=1)
        + paragraph("세부", style="a5")  # name "제목 3"
        + "<w:tbl><w:tr>"
        + f"<w:tc><w:p>{run('기술')}</w:p></w:tc><w:tc><w:p>{run('R2DBC')}</w:p></w:tc>"
        + "</w:tr></w:tbl>"
        + f'<w:p><w:hyperlink r:id="rId9" xmlns:r="x">{run("링크 텍스트")}</w:hyperlink></w:p>'
        + f"<w:p>{run('삭제 전 ')}<w:del><w:r><w:delText>지운 글</w:delText></w:r></w:del>"
        + f"<w:r><w:instrText>HYPERLINK x</w:instrText></w:r>{run('끝')}</w:p>"
    )
    doc, chunks = chunks_of(make_docx(body), "이력서.docx")
    assert doc.title == "홍길동"
    assert where(chunks, "Introduction paragraph.") == ("홍길동",)
    assert where(chunks, "결제 시스템을 만들었습니다.") == ("경력", "Acme")
    assert where(chunks, "파티션 설계") == ("경력", "Acme")
    assert where(chunks, "기술 | R2DBC") == ("경력", "Acme", "세부")
    assert where(chunks, "링크 텍스트") == ("경력", "Acme", "세부")
    assert where(chunks, "삭제 전 끝") == ("경력", "Acme", "세부")
    assert "지운 글" not in doc.text
    assert "HYPERLINK" not in doc.text
    item = next(b for b in doc.blocks if b.text == "파티션 설계")
    assert (item.kind, item.level) == (BlockKind.LIST_ITEM, 2)


def test_docx_without_styles_part_and_text_boxes() -> None:
    textbox = (
        '<w:p><w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/'
        'markup-compatibility/2006"><mc:Choice Requires="wps"><w:drawing><w:txbxContent>'
        f"{paragraph('상자 안 글')}</w:txbxContent></w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict><w:txbxContent>{paragraph('상자 안 글')}</w:txbxContent>"
        "</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    doc = extract(make_docx(paragraph("본문") + textbox, styles=None), MediaType.DOCX)
    assert [b.text for b in doc.blocks] == ["본문", "상자 안 글"]  # once, not twice


def test_pdf_round_trip_with_pages_as_sections() -> None:
    pdf = make_pdf(
        [
            ["홍길동 이력서", "• Kubernetes 클러스터를 운영했습니다.", "백엔드 개발 3년차입니다."],
            ["Second page talks about RabbitMQ.", "It was chosen for routing."],
        ]
    )
    doc, chunks = chunks_of(pdf, "홍길동 이력서.pdf")
    assert doc.title == "홍길동 이력서"  # the file name: a PDF has no headings
    assert where(chunks, "Kubernetes 클러스터를 운영했습니다.") == ("p. 1",)
    assert where(chunks, "백엔드 개발 3년차입니다.") == ("p. 1",)
    assert where(chunks, "Second page talks about RabbitMQ.") == ("p. 2",)
    bullet = next(b for b in doc.blocks if "Kubernetes" in b.text)
    assert bullet.kind is BlockKind.LIST_ITEM


# --- hidden text ---------------------------------------------------------------------

HIDDEN_HTML = [
    "<p hidden>INJECT</p>",
    '<div aria-hidden="true"><p>INJECT</p></div>',
    '<span style="display:none">INJECT</span>',
    '<span style="DISPLAY: none !important">INJECT</span>',
    '<span style="visibility:hidden">INJECT</span>',
    '<span style="font-size:0">INJECT</span>',
    '<span style="font-size: 0px">INJECT</span>',
    '<span style="font-size:1px">INJECT</span>',
    '<span style="font-size:0.5pt">INJECT</span>',
    '<span style="color:#fff">INJECT</span>',
    '<span style="color:#FFFFFF">INJECT</span>',
    '<span style="color: white">INJECT</span>',
    '<span style="color:rgb(255,255,255)">INJECT</span>',
    '<span style="color: rgb(255, 255, 255)">INJECT</span>',
    '<span style="color:rgba(255,255,255,0.9)">INJECT</span>',
    '<span style="color:hsl(0, 0%, 100%)">INJECT</span>',
    '<span style="color:#fefefe">INJECT</span>',
    '<span style="color:transparent">INJECT</span>',
    '<span style="color:rgba(0,0,0,0)">INJECT</span>',
    '<span style="opacity:0">INJECT</span>',
    '<span style="position:absolute;left:-9999px">INJECT</span>',
    '<span style="clip: rect(0, 0, 0, 0); position: absolute">INJECT</span>',
    '<h2 style="display:none">INJECT</h2>',
    '<div style="display:none"><p>INJECT <b>deep</b></p><ul><li>INJECT item</li></ul></div>',
    '<table><tr><td>cell</td><td><span style="color:#fff">INJECT</span></td></tr></table>',
    '<style>.sneaky { display: none }</style><p class="sneaky">INJECT</p>',
    "<style>#y{visibility:hidden}</style><div id=y>INJECT</div>",
    "<style>div.a, .b {font-size:0}</style><div class='a'>INJECT</div><p class=b>INJECT</p>",
    "<dialog>INJECT</dialog>",
    "<template><p>INJECT</p></template>",
    "<script>INJECT</script><noscript>INJECT</noscript><style>/* INJECT */</style>",
    "<!-- INJECT -->",
    "<p>zero\u200bwidth\U000e0049\U000e004e</p>",
]


@pytest.mark.parametrize("snippet", HIDDEN_HTML)
def test_hidden_html_text_is_dropped(snippet: str) -> None:
    page = f"<html><body><h1>Title</h1><p>VISIBLE text.</p>{snippet}</body></html>"
    doc = extract(page.encode(), MediaType.HTML)
    assert "VISIBLE text." in doc.text
    assert "INJECT" not in doc.text
    assert "\u200b" not in doc.text
    assert "\U000e0049" not in doc.text


@pytest.mark.parametrize(
    "snippet",
    [
        '<div style="background:#000"><span style="color:#fff">SHOWN</span></div>',
        '<div style="background-color: rgb(20,20,20)"><p style="color:white">SHOWN</p></div>',
        '<body bgcolor="black"><p style="color:#fff">SHOWN</p></body>',
        "<style>body { background: #111 } p { color: #eee }</style><p>SHOWN</p>",
        "<style>@media print { .x { display: none } }</style><p class=x>SHOWN</p>",
        "<style>.x:hover { display: none }</style><p class=x>SHOWN</p>",
        '<span style="font-size:0.9em">SHOWN</span>',
        "<dialog open>SHOWN</dialog>",
        '<span style="color:#777">SHOWN</span>',
    ],
)
def test_visible_html_text_is_kept(snippet: str) -> None:
    doc = extract(f"<html>{snippet}</html>".encode(), MediaType.HTML)
    assert "SHOWN" in doc.text


def test_hidden_text_inside_markdown_is_dropped() -> None:
    markdown = (
        "# Post\n\nVisible sentence.\n\n"
        '<div hidden>INJECT block</div>\n\nText with <span style="color:#ffffff">INJECT'
        "</span> inline.\n\n<!-- INJECT comment -->\n"
    )
    doc = extract(markdown.encode(), MediaType.MARKDOWN)
    assert "Visible sentence." in doc.text
    assert "Text with inline." in doc.text
    assert "INJECT" not in doc.text


STYLES_WITH_TRAPS = (
    f'<?xml version="1.0" encoding="UTF-8"?><w:styles xmlns:w="{W}">'
    '<w:style w:type="paragraph" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="WhiteBody"><w:name w:val="White Body"/>'
    '<w:rPr><w:color w:val="FFFFFF"/></w:rPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="Derived"><w:name w:val="Derived"/>'
    '<w:basedOn w:val="WhiteBody"/></w:style>'
    '<w:style w:type="character" w:styleId="Tiny"><w:name w:val="Tiny"/>'
    '<w:rPr><w:sz w:val="1"/></w:rPr></w:style>'
    '<w:style w:type="character" w:styleId="Ghost"><w:name w:val="Ghost"/>'
    "<w:rPr><w:vanish/></w:rPr></w:style>"
    "</w:styles>"
)


def _styled(rpr: str) -> str:
    return f"<w:p><w:r><w:rPr>{rpr}</w:rPr><w:t>INJECT</w:t></w:r>{run(' tail')}</w:p>"


@pytest.mark.parametrize(
    "body",
    [
        _styled("<w:vanish/>"),
        _styled('<w:vanish w:val="true"/>'),
        _styled("<w:specVanish/>"),
        _styled("<w:webHidden/>"),
        _styled('<w:color w:val="FFFFFF"/>'),
        _styled('<w:color w:val="ffffff"/>'),
        _styled('<w:color w:val="FEFEFE"/>'),
        _styled('<w:color w:val="000000" w:themeColor="background1"/>'),
        _styled('<w:sz w:val="2"/>'),
        _styled('<w:sz w:val="0"/>'),
        _styled('<w:rStyle w:val="Tiny"/>'),
        _styled('<w:rStyle w:val="Ghost"/>'),
        '<w:p><w:pPr><w:pStyle w:val="WhiteBody"/></w:pPr><w:r><w:t>INJECT</w:t></w:r></w:p>',
        '<w:p><w:pPr><w:pStyle w:val="Derived"/></w:pPr><w:r><w:t>INJECT</w:t></w:r></w:p>',
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:rPr><w:vanish/></w:rPr><w:t>INJECT</w:t></w:r>"
        "</w:p></w:tc></w:tr></w:tbl>",
    ],
)
def test_hidden_docx_runs_are_dropped(body: str) -> None:
    data = make_docx(paragraph("VISIBLE text.") + body, styles=STYLES_WITH_TRAPS)
    doc = extract(data, MediaType.DOCX)
    assert "VISIBLE text." in doc.text
    assert "INJECT" not in doc.text


@pytest.mark.parametrize(
    "body",
    [
        _styled('<w:vanish w:val="0"/>'),
        _styled('<w:vanish w:val="false"/>'),
        _styled('<w:color w:val="FFFFFF"/><w:shd w:val="clear" w:fill="000000"/>'),
        _styled('<w:color w:val="FFFFFF"/><w:highlight w:val="black"/>'),
        '<w:p><w:pPr><w:shd w:val="clear" w:fill="1F3864"/></w:pPr>'
        '<w:r><w:rPr><w:color w:val="FFFFFF"/></w:rPr><w:t>SHOWN</w:t></w:r></w:p>',
        '<w:tbl><w:tr><w:tc><w:tcPr><w:shd w:fill="000000"/></w:tcPr><w:p><w:r><w:rPr>'
        '<w:color w:val="FFFFFF"/></w:rPr><w:t>SHOWN</w:t></w:r></w:p></w:tc></w:tr></w:tbl>',
        _styled('<w:sz w:val="4"/>'),
        _styled('<w:color w:val="auto"/>'),
    ],
)
def test_visible_docx_runs_are_kept(body: str) -> None:
    body = body.replace("INJECT", "SHOWN")
    doc = extract(make_docx(body, styles=STYLES_WITH_TRAPS), MediaType.DOCX)
    assert "SHOWN" in doc.text


# --- failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"<html><body><script>x</script></body></html>", MediaType.HTML),
        (b"   \n\n  ", MediaType.TEXT),
        (b"<!-- only a comment -->", MediaType.MARKDOWN),
    ],
)
def test_no_text_is_a_failure(data: bytes, media_type: MediaType) -> None:
    with pytest.raises(ExtractionFailed) as caught:
        extract(data, media_type)
    assert caught.value.code == "no_text"
    assert caught.value.status == 422


def test_deeply_nested_html_fails_before_parsing() -> None:
    html = ("<div>" * 1_000_000 + "x" + "</div>" * 1_000_000).encode()
    with pytest.raises(ExtractionFailed) as caught:
        extract(html, MediaType.HTML)
    assert caught.value.code == "parse_failed"
    assert "deep" in caught.value.message
    shallow = ("<div>" * 300 + "deep but fine" + "</div>" * 300).encode()
    assert extract(shallow, MediaType.HTML).blocks[0].text == "deep but fine"


def test_too_much_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.documents import blocks

    monkeypatch.setattr(blocks, "MAX_TEXT_CHARS", 1000)
    with pytest.raises(ExtractionFailed) as caught:
        extract(("A sentence of text.\n\n" * 200).encode(), MediaType.TEXT)
    assert caught.value.code == "too_much_text"


def test_docx_without_document_part() -> None:
    data = make_docx(document=document_xml(""), styles=None)
    with pytest.raises(ExtractionFailed) as caught:
        extract(data, MediaType.DOCX)
    assert caught.value.code == "no_text"


CODE_MARKDOWN = """\
# 정산 배치

재처리는 명령어 한 줄이면 됩니다.

```bash
# 특정 정산일 재처리
airflow dags backfill settlement_daily \\
  --start-date 2023-12-11
```

그다음 결과를 확인했습니다.
"""


def test_a_code_block_keeps_its_lines_between_fences() -> None:
    doc, chunks = chunks_of(CODE_MARKDOWN.encode(), "post.md")
    code = [b for b in doc.blocks if b.kind is BlockKind.CODE]
    assert [b.text for b in code] == [
        "# 특정 정산일 재처리\nairflow dags backfill settlement_daily \\\n--start-date 2023-12-11"
    ]
    (only,) = chunks
    assert "```\n# 특정 정산일 재처리\nairflow dags backfill" in only.text
    assert only.text.index("한 줄이면") < only.text.index("```") < only.text.index("그다음")
    # Its words are searchable like any other text.
    assert "settlement_daily" in only.text


def test_an_html_pre_of_code_is_a_code_block_with_its_line_breaks() -> None:
    html = (
        b"<h1>T</h1><p>Intro text here.</p>"
        b"<pre><code>SELECT 1;<br>SELECT  2;\n\n-- done</code></pre>"
    )
    doc, chunks = chunks_of(html, "page.html")
    code = [b.text for b in doc.blocks if b.kind is BlockKind.CODE]
    assert code == ["SELECT 1;\nSELECT 2;\n-- done"]
    assert "```\nSELECT 1;\nSELECT 2;\n-- done\n```" in chunks[0].text


def test_preformatted_prose_is_not_code() -> None:
    # A plain-text resume exported into <pre>: prose, quotable like any other.
    html = b"<pre>Jane Doe\nLed the payments team for three years at Acme.</pre>"
    doc, _ = chunks_of(html, "resume.html")
    assert all(b.kind is not BlockKind.CODE for b in doc.blocks)
    assert "Led the payments team for three years at Acme." in doc.text


def test_a_literal_fence_line_never_opens_or_closes_a_code_block() -> None:
    from shared.chat.extractive import candidates
    from shared.chat.generation import Passage

    markdown = (
        "# Fences\n\nA fence is written like this.\n\n"
        "````\n```python\nprint(1)\n```\n````\n\n"
        "After the example the prose goes on and stays quotable.\n"
    )
    _, (only,) = chunks_of(markdown.encode(), "fences.md")
    inner = only.text[only.text.index("```\n") + 4 : only.text.rindex("\n```")]
    assert "`` `" in inner.split("\n")  # the example's own closing fence, escaped
    assert "```" not in inner.split("\n")
    quoted = [c.text for c in candidates([Passage(1, "d", "Fences", "Fences", only.text)])]
    assert "After the example the prose goes on and stays quotable." in quoted
    assert not any("print(1)" in q for q in quoted)
