"""Type detection from the bytes, encodings, refusals, and file-name sanitising."""

from __future__ import annotations

import os

import pytest

from shared.documents import (
    MediaType,
    UnsafeDocument,
    UnsupportedDocument,
    Upload,
    decode_text,
    detect,
    inspect_upload,
)
from shared.documents.sniff import MAX_FILENAME_BYTES, sanitize_filename
from shared.errors import BadRequest, PayloadTooLarge
from tests.documents.samples import make_docx, make_pdf, make_zip, paragraph

KOREAN = "홍길동의 경력기술서입니다. 쿠버네티스 클러스터를 3년 동안 운영했습니다."
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
PE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56


def refused(data: bytes, filename: str | None, code: str) -> UnsupportedDocument:
    with pytest.raises(UnsupportedDocument) as caught:
        detect(data, filename)
    error = caught.value
    assert error.code == code, error.message
    assert isinstance(error, BadRequest)
    assert error.status == 400
    assert error.message
    return error


# --- accepted types ------------------------------------------------------------------


def test_pdf_is_found_by_magic_whatever_the_name() -> None:
    pdf = make_pdf([["Hello"]])
    assert detect(pdf, "cv.pdf") is MediaType.PDF
    assert detect(pdf, None) is MediaType.PDF
    assert detect(pdf, "cv") is MediaType.PDF  # no extension: the bytes decide
    assert detect(b"\r\n" + pdf, "cv.pdf") is MediaType.PDF


def test_docx_is_a_zip_with_word_document_and_content_types() -> None:
    docx = make_docx(paragraph("Hello"))
    assert detect(docx, "cv.docx") is MediaType.DOCX
    assert detect(docx, "upload.bin") is MediaType.DOCX


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><html><body><p>Hi</p></body></html>",
        "\ufeff  \n<!doctype HTML>\n<p>Hi</p>",
        "<html lang='ko'><p>안녕</p></html>",
        "<?xml version='1.0'?>\n<html xmlns='http://www.w3.org/1999/xhtml'><p>x</p></html>",
        "<!-- saved page -->\n<head><title>T</title></head><body>x</body>",
        "<div class='post'><h1>Title</h1><p>text</p></div>",
    ],
)
def test_html_from_its_first_tags(text: str) -> None:
    assert detect(text.encode(), "post.html") is MediaType.HTML
    assert detect(text.encode(), None) is MediaType.HTML


def test_markdown_from_its_syntax_or_its_name() -> None:
    assert detect(b"# Title\n\nSome text.", None) is MediaType.MARKDOWN
    assert detect(b"Intro\n\n- one\n- two\n", "notes") is MediaType.MARKDOWN
    assert detect(b"See [my blog](https://example.com).", None) is MediaType.MARKDOWN
    assert detect(b"Just a sentence.\nAnother one.", None) is MediaType.TEXT
    # The name only chooses between text flavours:
    assert detect(b"Just a sentence.", "notes.md") is MediaType.MARKDOWN
    # a README that opens with HTML is still Markdown when it is named so,
    assert detect(b'<p align="center">logo</p>\n\n# Project', "README.md") is MediaType.MARKDOWN
    # but a whole HTML page is HTML whatever the text-family name.
    assert detect(b"<!DOCTYPE html><p>x</p>", "page.md") is MediaType.HTML
    assert detect(b"<!DOCTYPE html><p>x</p>", "page.txt") is MediaType.HTML


def test_a_markdown_name_cannot_turn_binary_into_text() -> None:
    refused(ELF, "notes.md", "executable")
    refused(make_pdf([["x"]]), "notes.md", "type_mismatch")


# --- encodings -----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr"])
def test_korean_legacy_encodings_decode_to_the_right_hangul(encoding: str) -> None:
    data = KOREAN.encode(encoding)
    assert data != KOREAN.encode()  # really not UTF-8
    decoded = decode_text(data)
    assert decoded.text == KOREAN
    assert decoded.encoding == "cp949"
    assert detect(data, "cv.txt") is MediaType.TEXT


def test_cp949_only_syllables_decode() -> None:
    text = "똠방각하 뷁 펲 - 확장 완성형 글자도 읽습니다."
    assert decode_text(text.encode("cp949")).text == text


def test_short_korean_line_in_cp949() -> None:
    assert decode_text("경력".encode("cp949")).text == "경력"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (KOREAN.encode("utf-8"), "utf-8"),
        (KOREAN.encode("utf-8-sig"), "utf-8-sig"),
        (KOREAN.encode("utf-16"), "utf-16"),  # with BOM (LE here)
        (b"\xfe\xff" + KOREAN.encode("utf-16-be"), "utf-16"),
    ],
)
def test_unicode_encodings(data: bytes, encoding: str) -> None:
    decoded = decode_text(data)
    assert decoded.text == KOREAN
    assert decoded.encoding == encoding
    assert detect(data, None) is MediaType.TEXT


def test_latin1_text_is_not_mistaken_for_cp949() -> None:
    text = "Résumé: naïve café owner in Zürich, fluent in Français.\n" * 3
    decoded = decode_text(text.encode("latin-1"))
    assert decoded.text == text
    assert decoded.encoding != "cp949"


def test_cp949_html_is_html() -> None:
    data = f"<html><body><h1>{KOREAN}</h1></body></html>".encode("cp949")
    assert detect(data, "page.html") is MediaType.HTML


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t  ", "\ufeff  \n".encode(), b"\xff\xfe"])
def test_empty_files(data: bytes) -> None:
    refused(data, "cv.pdf" if not data else "cv.txt", "empty_file")


@pytest.mark.parametrize(
    "data",
    [
        ELF,
        PE,
        b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 32,  # Mach-O 64
        b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + b"\x00" * 32,  # fat binary
        b"\x00asm\x01\x00\x00\x00",
        b"#!/bin/sh\nrm -rf ~\n",
        b"#! /usr/bin/env python\nprint('x')\n",
    ],
)
def test_executables_renamed_pdf_are_refused(data: bytes) -> None:
    error = refused(data, "resume.pdf", "executable")
    assert "executable" in error.message or "binary" in error.message or "module" in error.message


def test_a_hash_bang_that_is_no_shebang_is_text() -> None:
    assert detect(b"#!important note\n\nplain words", None) is MediaType.TEXT


def test_a_pdf_sent_as_docx_is_a_mismatch() -> None:
    error = refused(make_pdf([["Hello"]]), "resume.docx", "type_mismatch")
    assert ".docx" in error.message
    assert "PDF" in error.message
    assert error.to_body()["error"]["detected"] == "application/pdf"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (make_docx(paragraph("x")), "resume.pdf"),
        (b"<!DOCTYPE html><p>x</p>", "resume.pdf"),
        (b"plain words", "resume.docx"),
        (make_pdf([["x"]]), "resume.txt"),
    ],
)
def test_other_mismatches(data: bytes, name: str) -> None:
    refused(data, name, "type_mismatch")


def test_unknown_extensions_leave_it_to_the_bytes() -> None:
    assert detect(make_pdf([["x"]]), "resume.hwp.bin") is MediaType.PDF
    assert detect(b"plain words", "resume.csv") is MediaType.TEXT


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (make_zip({"a.txt": b"hello"}), "ZIP archive"),
        (make_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}), "Excel"),
        (make_zip({"mimetype": b"application/vnd.oasis.opendocument.text"}), "OpenDocument"),
        (b"PK\x03\x04" + b"\x00" * 40, "damaged"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 40, "JPEG"),
        (b"GIF89a" + b"\x00" * 40, "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "legacy Office"),
        (b"{\\rtf1\\ansi hello}", "RTF"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "gzip"),
    ],
)
def test_unsupported_types(data: bytes, needle: str) -> None:
    error = refused(data, None, "unsupported_type")
    assert needle in error.message


def test_binary_junk_is_refused() -> None:
    junk = os.urandom(4096)
    junk = b"\x01" + junk[1:]  # no known magic
    refused(junk, "notes.txt", "unsupported_type")
    refused(b"hello\x00world\x00" * 50, "notes.txt", "unsupported_type")


# --- file names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("resume.pdf", "resume.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cv.docx", "cv.docx"),
        ("C:\\Users\\kim\\이력서.pdf", "이력서.pdf"),
        ("/abs/path/홍길동 경력기술서.docx", "홍길동 경력기술서.docx"),
        ("resume.pdf\x00.exe", "resume.pdf.exe"),
        ("re\x00su\x1fme\x7f.pdf", "resume.pdf"),
        ("resume\u202efdp.exe", "resumefdp.exe"),  # RTL override cannot fake an extension
        ("..", "document"),
        ("...", "document"),
        ("", "document"),
        ("/", "document"),
        ("a/b/", "document"),
        (".bashrc", "bashrc"),
        ("..hidden.pdf", "hidden.pdf"),
        ("cv.pdf. . ", "cv.pdf"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1.pdf", "_LPT1.pdf"),
        ("nul.tar.gz", "_nul.tar.gz"),
        ("what?<>|*.md", "what_____.md"),
        ("  many   spaces .txt", "many spaces.txt"),
        (".pdf", "pdf"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_sanitize_filename_limits_length_and_keeps_the_extension() -> None:
    long_korean = "가" * 300 + ".docx"
    safe = sanitize_filename(long_korean)
    assert safe.endswith(".docx")
    assert len(safe.encode()) <= MAX_FILENAME_BYTES
    assert set(safe[: -len(".docx")]) == {"가"}  # cut at a character boundary
    assert sanitize_filename("a" * 1000).startswith("a")
    assert len(sanitize_filename("a" * 1000).encode()) <= MAX_FILENAME_BYTES


def test_sanitize_filename_normalises_hangul_to_nfc() -> None:
    decomposed = "\u1112\u1169\u11bc\u1100\u1175\u11af\u1103\u1169\u11bc.pdf"  # NFD 홍길동
    assert sanitize_filename(decomposed) == "홍길동.pdf"


def test_sanitize_filename_never_returns_a_path_or_empty() -> None:
    for name in ["../", "\\\\server\\share\\", "\x00", "\u200b", " . ", "././.", None]:
        safe = sanitize_filename(name)
        assert safe
        assert "/" not in safe
        assert "\\" not in safe
        assert "\x00" not in safe
        assert not safe.startswith(".")


# --- the upload check as a whole -----------------------------------------------------


def test_inspect_upload() -> None:
    upload = inspect_upload(make_pdf([["x"]]), "../../cv\x00.pdf", max_bytes=10 * 1024 * 1024)
    assert upload == Upload(MediaType.PDF, "cv.pdf", upload.size)
    assert upload.size > 0


def test_inspect_upload_size_limit_is_exact() -> None:
    limit = 10 * 1024 * 1024
    text = b"a" * limit
    assert inspect_upload(text, "big.txt", max_bytes=limit).size == limit
    with pytest.raises(PayloadTooLarge) as caught:
        inspect_upload(text + b"a", "big.txt", max_bytes=limit)
    assert caught.value.status == 413
    assert caught.value.code == "file_too_large"


def test_inspect_upload_runs_the_docx_safety_check() -> None:
    bomb = make_docx(paragraph("Hi"), extra={"word/media/image1.png": b"\x00" * (20 << 20)})
    assert detect(bomb, "cv.docx") is MediaType.DOCX  # sniffing alone does not unpack
    with pytest.raises(UnsafeDocument) as caught:
        inspect_upload(bomb, "cv.docx")
    assert caught.value.code == "zip_bomb"
