"""The DOCX safety check: zip bombs, entry counts, nesting, entry names, XML entities."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from shared.documents import (
    ExtractionFailed,
    MediaType,
    UnsafeDocument,
    check_docx,
    extract,
    safety,
)
from shared.errors import BadRequest
from tests.documents.samples import W, document_xml, make_docx, paragraph

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def unsafe(data: bytes, code: str) -> UnsafeDocument:
    with pytest.raises(UnsafeDocument) as caught:
        check_docx(data)
    error = caught.value
    assert error.code == code, error.message
    assert isinstance(error, BadRequest)
    assert error.status == 400
    # extract() runs the same check before parsing anything
    with pytest.raises(UnsafeDocument) as again:
        extract(data, MediaType.DOCX)
    assert again.value.code == code
    return error


def test_a_normal_docx_passes() -> None:
    data = make_docx(paragraph("Hello"), extra={"word/media/image1.png": PNG})
    check_docx(data)
    assert safety.read_docx(data, keep=("word/document.xml",)).keys() == {"word/document.xml"}


# --- zip bombs -----------------------------------------------------------------------


def test_zip_bomb_by_compression_ratio() -> None:
    bomb = make_docx(paragraph("Hi"), extra={"word/media/image1.png": b"\x00" * (20 << 20)})
    assert len(bomb) < 100_000
    error = unsafe(bomb, "zip_bomb")
    assert "compressed more than" in error.message
    assert "image1.png" in error.message


def test_zip_bomb_in_document_xml_itself() -> None:
    filler = "<w:p/>" * 3_000_000  # 18 MB of XML that compresses ~1000:1
    unsafe(make_docx(filler), "zip_bomb")


def test_zip_bomb_by_total_uncompressed_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Entries that compress innocently but add up: stored entries of random-looking data.
    monkeypatch.setattr(safety, "MAX_TOTAL_UNCOMPRESSED", 2 << 20)
    noise = bytes((i * 7919 + (i >> 8) * 104729) & 0xFF for i in range(1 << 20))
    data = make_docx(
        paragraph("Hi"),
        extra={f"word/media/image{i}.bin": noise for i in range(3)},
        compression=zipfile.ZIP_STORED,
    )
    error = unsafe(data, "zip_bomb")
    assert "expands to more than 2 MiB" in error.message


def _lie_about_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size of ``name`` in its local and central headers."""
    raw = bytearray(data)
    encoded = name.encode()
    local = raw.find(b"PK\x03\x04")
    while local != -1:
        name_length = struct.unpack_from("<H", raw, local + 26)[0]
        if raw[local + 30 : local + 30 + name_length] == encoded:
            struct.pack_into("<I", raw, local + 22, size)
        local = raw.find(b"PK\x03\x04", local + 4)
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46 : central + 46 + name_length] == encoded:
            struct.pack_into("<I", raw, central + 24, size)
        central = raw.find(b"PK\x01\x02", central + 4)
    return bytes(raw)


def test_headers_that_understate_sizes_are_not_trusted() -> None:
    data = make_docx(paragraph("Hi"), extra={"word/media/big.bin": b"\x00" * (20 << 20)})
    lying = _lie_about_size(data, "word/media/big.bin", 100)
    info = zipfile.ZipFile(io.BytesIO(lying)).getinfo("word/media/big.bin")
    assert info.file_size == 100  # the header now claims 100 bytes
    error = unsafe(lying, "damaged_archive")
    assert "big.bin" in error.message


def test_headers_that_overstate_sizes_are_not_trusted_either() -> None:
    data = make_docx(paragraph("Hello there"), extra={"word/media/image1.png": PNG})
    lying = _lie_about_size(data, "word/document.xml", 10**9)
    info = zipfile.ZipFile(io.BytesIO(lying)).getinfo("word/document.xml")
    assert info.file_size > safety.MAX_TOTAL_UNCOMPRESSED  # a header-trusting check refuses
    check_docx(lying)  # what is counted is what comes out of the stream
    assert extract(lying, MediaType.DOCX).blocks[0].text == "Hello there"


def test_too_many_entries() -> None:
    extra = {f"word/media/i{i}.txt": b"" for i in range(safety.MAX_ENTRIES)}
    error = unsafe(make_docx(paragraph("Hi"), extra=extra), "too_many_entries")
    assert str(safety.MAX_ENTRIES) in error.message


# --- nesting and names ---------------------------------------------------------------


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", b"MZ")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name",
    [
        "word/embeddings/Microsoft_Excel_Worksheet.xlsx",
        "word/embeddings/other.docx",
        "word/media/archive.ZIP",
        "word/media/x.7z",
        "word/media/x.tar.gz",
        "word/media/x.jar",
    ],
)
def test_nested_archive_by_name(name: str) -> None:
    error = unsafe(make_docx(paragraph("Hi"), extra={name: b"not really"}), "nested_archive")
    assert "nested archive" in error.message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (_zip_bytes(), "ZIP"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 32, "gzip"),
        (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 32, "7-Zip"),
        (b"Rar!\x1a\x07\x00" + b"\x00" * 32, "RAR"),
        (b"\x00" * 257 + b"ustar\x0000" + b"\x00" * 100, "tar"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32, "OLE"),
    ],
)
def test_nested_archive_by_magic(content: bytes, what: str) -> None:
    data = make_docx(paragraph("Hi"), extra={"word/media/image1.png": content})
    error = unsafe(data, "nested_archive")
    assert what in error.message
    assert "image1.png" in error.message


@pytest.mark.parametrize(
    "name",
    ["../../evil.xml", "word/../../evil.xml", "/etc/cron.d/evil", "C:/evil.xml", "word\\..\\..\\e"],
)
def test_entry_names_that_escape(name: str) -> None:
    error = unsafe(make_docx(paragraph("Hi"), extra={name: b"x"}), "unsafe_entry_name")
    assert "unsafe path" in error.message


def test_entry_name_with_nul() -> None:
    data = make_docx(paragraph("Hi"), extra={"word/evilX.xml": b"x"})
    data = data.replace(b"word/evilX.xml", b"word/evil\x00.xml")
    unsafe(data, "unsafe_entry_name")


def test_a_damaged_container() -> None:
    data = make_docx(paragraph("Hi"))
    unsafe(data[: len(data) // 2], "damaged_archive")


# --- XML -----------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<!DOCTYPE w:document [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


@pytest.mark.parametrize(
    ("prolog", "body"),
    [
        (BILLION_LAUGHS, "&lol9;"),
        ('<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
        ('<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>', "&xxe;"),
        ('<!DOCTYPE w:document SYSTEM "http://127.0.0.1:9/evil.dtd">', "plain"),
        ('<!DOCTYPE w:document [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', "plain"),
    ],
)
def test_entities_and_dtds_in_document_xml_are_refused(prolog: str, body: str) -> None:
    document = document_xml(f"<w:p><w:r><w:t>{body}</w:t></w:r></w:p>", prolog=prolog)
    data = make_docx(document=document)
    check_docx(data)  # the container is fine; the XML is what is refused
    with pytest.raises(UnsafeDocument) as caught:
        extract(data, MediaType.DOCX)
    assert caught.value.code == "xml_entity"
    assert "document.xml" in caught.value.message


def test_entities_in_styles_xml_are_refused() -> None:
    styles = (
        '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<w:styles xmlns:w="{W}">&x;</w:styles>'
    )
    with pytest.raises(UnsafeDocument) as caught:
        extract(make_docx(paragraph("Hi"), styles=styles), MediaType.DOCX)
    assert caught.value.code == "xml_entity"


def test_malformed_xml_fails_extraction() -> None:
    data = make_docx(document="<w:document><w:body><w:p>")
    with pytest.raises(ExtractionFailed) as caught:
        extract(data, MediaType.DOCX)
    assert caught.value.code == "parse_failed"
    assert caught.value.status == 422
