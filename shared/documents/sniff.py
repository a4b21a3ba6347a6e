"""What an upload is, decided from its bytes; and a file name that is safe to keep.

Decisions:

- The bytes decide the type. The name only chooses between text flavours (``.md``
  makes a text Markdown) and otherwise serves one check: when it carries one of OUR
  document extensions and that contradicts the bytes (a PDF named ``cv.docx``, an HTML
  page named ``cv.pdf``), the upload is refused with ``type_mismatch``: such a file was
  mislabelled or crafted, and the owner should know rather than get a surprise.
  Unknown or missing extensions (``cv``, ``cv.bin``) are judged by the bytes alone.
  ``.txt``, ``.md``, ``.html`` are one family: an HTML page saved as ``.txt`` is HTML.
- Executables are refused with ``executable``: ELF, PE (``MZ``), Mach-O (also fat /
  Java class ``CAFEBABE``), WebAssembly, and scripts starting with a shebang (``#!/``):
  a script is no career document, and refusing it costs nothing.
- ZIPs that are not DOCX (XLSX, ODT, plain archives), legacy Office/HWP (OLE2), RTF,
  PostScript, images, audio/video and anything else binary are ``unsupported_type``.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath

from shared.documents.errors import UnsupportedDocument
from shared.documents.model import MediaType
from shared.documents.text import decode_text

_EXECUTABLE_MAGIC = (
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary or Java class"),
    (b"\x00asm", "a WebAssembly module"),
)
_SHEBANG = re.compile(rb"^#![ \t]*/")
_PDF_HEADER = re.compile(rb"[ \t\r\n]*%PDF-")
_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an icon"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office or HWP file (save it as DOCX or PDF)"),
    (b"{\\rtf", "an RTF file (save it as DOCX or PDF)"),
    (b"%!PS", "a PostScript file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"MSCF", "a cabinet archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"OggS", "an audio or video file"),
    (b"ID3", "an audio file"),
    (b"fLaC", "an audio file"),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_DOCX_REQUIRED = frozenset({"[Content_Types].xml", "word/document.xml"})

# Tags that make a text HTML wherever it comes from, and tags a Markdown file also
# starts with (GitHub READMEs open with <p align="center">): HTML unless the name says .md.
_STRONG_HTML = re.compile(r"<(?:!doctype\s+html|html|head|body|meta|title)[\s>/]", re.IGNORECASE)
_WEAK_HTML = re.compile(
    r"<(?:div|p|h[1-6]|table|ul|ol|section|article|main|header|span|a|img|br|link|script"
    r"|style|!--)[\s>/-]",
    re.IGNORECASE,
)
_HTML_PREFIX_CHARS = 1024
_MARKDOWN_SIGNALS = (
    re.compile(r"^#{1,6}[ \t]+\S", re.MULTILINE),  # ATX heading
    re.compile(r"^\S.*\n(?:=+|-{3,})[ \t]*$", re.MULTILINE),  # setext heading
    re.compile(r"^[ \t]*[-*+][ \t]+\S", re.MULTILINE),  # bullet list
    re.compile(r"^[ \t]*\d{1,3}\.[ \t]+\S", re.MULTILINE),  # ordered list
    re.compile(r"\[[^\[\]\n]+\]\([^)\s]+\)"),  # link (no "[" inside: linear on "[[[[")
    re.compile(r"^```", re.MULTILINE),  # fenced code
    re.compile(r"^>[ \t]", re.MULTILINE),  # quote
    re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),  # bold
    re.compile(r"^\|?[ \t]*:?-{3,}:?[ \t]*\|", re.MULTILINE),  # table rule
)

# Extensions of the types we accept, by family: a name in one family and bytes of another
# is a mismatch. Text flavours form one family.
_FAMILY = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "text",
    ".htm": "text",
    ".xhtml": "text",
}
_MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown"})


def detect(data: bytes, filename: str | None = None) -> MediaType:
    """The media type of ``data`` from its bytes; ``UnsupportedDocument`` if refused."""
    extension = _extension(filename)
    media_type = _from_bytes(data, extension)
    family = _FAMILY.get(extension)
    detected_family = "text" if media_type.is_text else media_type.name.lower()
    if family is not None and family != detected_family:
        raise UnsupportedDocument(
            f"the file is named {extension} but its content is {_describe(media_type)}; "
            f"rename it to {media_type.extension} or upload the right file",
            code="type_mismatch",
            details={"detected": str(media_type)},
        )
    return media_type


def _from_bytes(data: bytes, extension: str) -> MediaType:
    if not data.strip():
        raise UnsupportedDocument("the file is empty", code="empty_file")
    head = data[:64]
    for magic, what in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            raise UnsupportedDocument(f"the file is {what}", code="executable")
    if _SHEBANG.match(head):
        raise UnsupportedDocument("the file is an executable script", code="executable")
    if _PDF_HEADER.match(data, 0, 1024):
        return MediaType.PDF
    if head.startswith(_ZIP_MAGIC):
        return _zip_type(data)
    binary = _binary_kind(head)
    if binary is not None:
        raise UnsupportedDocument(f"the file is {binary}, which is not supported")
    text = decode_text(data).text
    if not text.strip():
        raise UnsupportedDocument("the file is empty", code="empty_file")
    return _text_flavour(text, extension)


def _zip_type(data: bytes) -> MediaType:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsupportedDocument("the file is a damaged ZIP archive") from exc
    if names >= _DOCX_REQUIRED:
        return MediaType.DOCX
    if "xl/workbook.xml" in names or "ppt/presentation.xml" in names:
        what = "an Excel or PowerPoint file"
    elif "mimetype" in names or "content.xml" in names:
        what = "an OpenDocument file"
    else:
        what = "a ZIP archive"
    raise UnsupportedDocument(f"the file is {what}, not a Word (DOCX) document")


def _binary_kind(head: bytes) -> str | None:
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return "an image, audio or video file"
    if head[4:8] == b"ftyp":
        return "an image or video file (HEIC, AVIF, MP4)"
    return None


def _text_flavour(text: str, extension: str) -> MediaType:
    start = text.lstrip("\ufeff \t\r\n")[:_HTML_PREFIX_CHARS]
    if start.startswith("<") and _STRONG_HTML.search(start):
        return MediaType.HTML
    markdown_name = extension in _MARKDOWN_EXTENSIONS
    if _WEAK_HTML.match(start) and not markdown_name:
        return MediaType.HTML
    if markdown_name or any(signal.search(text) for signal in _MARKDOWN_SIGNALS):
        return MediaType.MARKDOWN
    return MediaType.TEXT


def _describe(media_type: MediaType) -> str:
    return {
        MediaType.PDF: "a PDF",
        MediaType.DOCX: "a Word (DOCX) document",
        MediaType.HTML: "HTML",
        MediaType.MARKDOWN: "Markdown text",
        MediaType.TEXT: "plain text",
    }[media_type]


def _extension(filename: str | None) -> str:
    if not filename:
        return ""
    return PurePosixPath(sanitize_filename(filename)).suffix.lower()


# --- file names --------------------------------------------------------------------

MAX_FILENAME_BYTES = 180  # UTF-8 bytes: Hangul is 3 bytes a syllable; filesystems allow 255
_MAX_EXTENSION_CHARS = 10
_DEFAULT_STEM = "document"
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(
    r"^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$", re.IGNORECASE
)


def sanitize_filename(name: str | None) -> str:
    """A display/storage-safe file name; never empty, never a path.

    Directories (``/`` and ``\\``) are stripped, as are control and format characters
    (NUL, bidi overrides that fake extensions, zero-width), characters Windows forbids,
    leading dots and trailing dots/spaces; Windows device names get a ``_`` prefix; the
    name is cut to ``MAX_FILENAME_BYTES`` UTF-8 bytes keeping its extension. Hangul and
    other letters are kept (NFC).
    """
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _WINDOWS_FORBIDDEN.sub("_", text)
    text = " ".join(text.split())
    text = text.lstrip(". ").rstrip(". ")
    stem, extension = _split_extension(text)
    if not stem:
        stem = _DEFAULT_STEM
    if _WINDOWS_RESERVED.match(stem.split(".")[0]):
        stem = f"_{stem}"
    budget = MAX_FILENAME_BYTES - len(extension.encode())
    stem = _truncate_utf8(stem, budget).rstrip(". ") or _DEFAULT_STEM
    return stem + extension


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or not extension:
        return name, ""
    if len(extension) > _MAX_EXTENSION_CHARS or not extension.isalnum():
        return name, ""
    return stem, f".{extension}"


def _truncate_utf8(text: str, budget: int) -> str:
    encoded = text.encode()
    if len(encoded) <= budget:
        return text
    return encoded[:budget].decode("utf-8", errors="ignore")
