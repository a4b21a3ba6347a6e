"""DOCX safety: the ZIP container and its XML are checked before anything parses them.

Every entry is decompressed once, in bounded reads, and the bytes are COUNTED as they
come out: the sizes in the ZIP headers are not trusted (``zipfile`` stops at the
declared size and a lying header then fails its CRC, which we refuse as damaged).
XML is parsed with defusedxml and no DTD at all, which refuses billion-laughs entity
expansion and external entities alike.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from shared.documents.errors import ExtractionFailed, UnsafeDocument

MAX_ENTRIES = 1000  # a real DOCX has 10-60 entries; a few hundred with many images
MAX_TOTAL_UNCOMPRESSED = 100 * 1024 * 1024  # counted while reading, across all entries
MAX_RATIO = 100  # uncompressed / compressed, per entry; XML compresses 5-30x
RATIO_FLOOR = 1024 * 1024  # the ratio is judged once an entry has produced this much
MAX_XML_PART = 32 * 1024 * 1024  # a part we parse (document.xml, styles.xml)
_READ_SIZE = 64 * 1024

NESTED_EXTENSIONS = frozenset(
    {
        ".zip", ".jar", ".war", ".ear", ".apk", ".aar", ".ipa", ".xpi", ".crx", ".whl",
        ".docx", ".docm", ".dotx", ".dotm", ".xlsx", ".xlsm", ".xlsb", ".pptx", ".pptm",
        ".odt", ".ods", ".odp", ".epub", ".7z", ".rar", ".gz", ".tgz", ".bz2", ".tbz2",
        ".xz", ".txz", ".zst", ".lz", ".lzma", ".z", ".tar", ".cab", ".iso", ".dmg",
        ".msi", ".arj", ".lzh", ".cpio", ".rpm", ".deb",
    }
)  # fmt: skip
NESTED_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"MSCF", "a cabinet archive"),
    # OLE2 compound files (embedded objects, macros) can carry any file, executables too.
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE container"),
)
_TAR_MAGIC_OFFSET = 257
_SNIFF_BYTES = 512


def read_docx(data: bytes, keep: Collection[str]) -> dict[str, bytes]:
    """Check the whole container, then return the entries named in ``keep`` that exist.

    Raises ``UnsafeDocument`` with codes ``too_many_entries``, ``zip_bomb``,
    ``nested_archive``, ``unsafe_entry_name``, ``encrypted`` or ``damaged_archive``.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsafeDocument("the DOCX file is damaged", code="damaged_archive") from exc
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise UnsafeDocument(
                f"the DOCX has {len(entries)} entries, more than the {MAX_ENTRIES} allowed",
                code="too_many_entries",
            )
        for info in entries:
            _check_entry_name(info)
        kept: dict[str, bytes] = {}
        total = 0
        for info in entries:
            if info.is_dir():
                continue
            body, total = _read_entry(archive, info, total, info.filename in keep)
            if body is not None:
                kept[info.filename] = body
    return kept


def check_docx(data: bytes) -> None:
    """Refuse an unsafe DOCX at upload (cheap: bounded by the limits above)."""
    read_docx(data, keep=())


def _check_entry_name(info: zipfile.ZipInfo) -> None:
    # ZipInfo.filename has NUL cut off and "\" turned to "/" on Windows only; look at the
    # raw name as well.
    raw = info.orig_filename
    name = raw.replace("\\", "/")
    parts = name.split("/")
    if (
        "\x00" in raw
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or any(part == ".." for part in parts)
    ):
        raise UnsafeDocument(
            f"the DOCX contains an entry with an unsafe path: {raw[:100]!r}",
            code="unsafe_entry_name",
        )
    if info.flag_bits & 0x1:
        raise UnsafeDocument("the DOCX is encrypted", code="encrypted")
    lowered = name.lower()
    for extension in NESTED_EXTENSIONS:
        if lowered.endswith(extension):
            raise UnsafeDocument(
                f"the DOCX contains a nested archive ({name[:100]}); "
                "embedded files are not accepted, save the document as PDF instead",
                code="nested_archive",
            )


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int, keep: bool
) -> tuple[bytes | None, int]:
    produced = 0
    head = b""
    body = bytearray() if keep else None
    compressed = max(info.compress_size, 1)
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_READ_SIZE):
                produced += len(chunk)
                total += len(chunk)
                if total > MAX_TOTAL_UNCOMPRESSED:
                    raise UnsafeDocument(
                        "the DOCX expands to more than "
                        f"{MAX_TOTAL_UNCOMPRESSED // (1024 * 1024)} MiB (zip bomb)",
                        code="zip_bomb",
                    )
                if produced > RATIO_FLOOR and produced / compressed > MAX_RATIO:
                    raise UnsafeDocument(
                        f"the DOCX entry {info.filename[:100]} is compressed more than "
                        f"{MAX_RATIO}:1 (zip bomb)",
                        code="zip_bomb",
                    )
                if len(head) < _SNIFF_BYTES:
                    head += chunk[: _SNIFF_BYTES - len(head)]
                if body is not None:
                    if produced > MAX_XML_PART:
                        raise UnsafeDocument(
                            f"the DOCX part {info.filename} is larger than "
                            f"{MAX_XML_PART // (1024 * 1024)} MiB",
                            code="zip_bomb",
                        )
                    body += chunk
    except UnsafeDocument:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        # Bad CRC (sizes that lie), truncated data, unsupported compression.
        raise UnsafeDocument(
            f"the DOCX entry {info.filename[:100]} is damaged: {exc}", code="damaged_archive"
        ) from exc
    _check_nested_magic(info.filename, head)
    return (bytes(body) if body is not None else None), total


def _check_nested_magic(name: str, head: bytes) -> None:
    found = next((what for magic, what in NESTED_MAGIC if head.startswith(magic)), None)
    if found is None and head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar":
        found = "a tar archive"
    if found is not None:
        raise UnsafeDocument(
            f"the DOCX entry {name[:100]} is {found}; nested archives are not accepted",
            code="nested_archive",
        )


def parse_xml(data: bytes, part: str) -> Element:
    """Parse one XML part safely: no DTD, no entities, no external references."""
    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise UnsafeDocument(
            f"the DOCX part {part} declares a DTD or entities (entity expansion and external "
            "entities are refused)",
            code="xml_entity",
        ) from exc
    except ParseError as exc:
        raise ExtractionFailed(
            f"the DOCX part {part} is not well-formed XML: {exc}", code="parse_failed"
        ) from exc
    return root
