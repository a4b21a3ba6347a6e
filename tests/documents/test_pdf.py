"""PDF extraction in a child process: a PDF that hangs or explodes pypdf ends in
``ExtractionFailed`` and the parent stays healthy. These run the real worker, the real
subprocess and the real limits."""

from __future__ import annotations

import io
import os
import sys
import textwrap
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from shared.documents import ExtractionFailed, MediaType, extract
from shared.documents import pdf as pdf_module
from shared.documents.pdf import pdf_pages
from tests.documents.samples import make_pdf, make_raw_pdf, memory_bomb_pdf, slow_pdf

HELLO = make_pdf([["Hello from page one."], ["And page two."]])


def failure(data: bytes, **limits: float | int) -> ExtractionFailed:
    with pytest.raises(ExtractionFailed) as caught:
        pdf_pages(data, **limits)  # type: ignore[arg-type]
    assert caught.value.status == 422
    return caught.value


def still_healthy() -> None:
    assert [page.strip() for page in pdf_pages(HELLO)] == ["Hello from page one.", "And page two."]


def test_pages_come_back_in_order() -> None:
    still_healthy()


def test_a_pdf_that_stalls_the_parser_is_stopped_at_the_wall_time_limit() -> None:
    data = slow_pdf()  # a few KB; pypdf needs well over ten seconds for it
    assert len(data) < 20_000
    error = failure(data, timeout=2)
    assert error.code == "parse_failed"
    assert "longer than 2 s" in error.message
    still_healthy()


def test_a_pdf_that_explodes_the_parser_hits_the_memory_limit() -> None:
    data = memory_bomb_pdf()  # ~70 KB that pypdf turns into hundreds of MB
    assert len(data) < 200_000
    error = failure(data, memory_bytes=256 * 1024 * 1024, timeout=120)
    assert error.code == "parse_failed"
    assert "more than 256 MiB of memory" in error.message
    still_healthy()


def test_garbage_after_the_header() -> None:
    error = failure(b"%PDF-1.7\n" + os.urandom(2000))
    assert error.code == "parse_failed"
    assert error.message.startswith("the PDF could not be read")


def test_a_truncated_pdf() -> None:
    error = failure(HELLO[: len(HELLO) // 3])
    assert error.code == "parse_failed"


def test_password_protected() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(HELLO)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    error = failure(buffer.getvalue())
    assert "password-protected" in error.message


def test_an_empty_user_password_is_not_a_lock() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(HELLO)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert pdf_pages(buffer.getvalue())[0].strip() == "Hello from page one."


def test_page_limit() -> None:
    data = make_pdf([[f"Page {n}."] for n in range(6)])
    error = failure(data, max_pages=5)
    assert "6 pages, more than the 5 allowed" in error.message


def test_a_pdf_without_text_is_no_text() -> None:
    with pytest.raises(ExtractionFailed) as caught:
        extract(make_raw_pdf(b"0 0 m 100 100 l S"), MediaType.PDF)
    assert caught.value.code == "no_text"
    assert "scanned" in caught.value.message


# The worker is replaced below by scripts that misbehave in ways a real PDF could make
# pypdf misbehave (a crash, a torrent of output); the subprocess path is the real one.


def _worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(source))
    monkeypatch.setattr(pdf_module, "_WORKER", script)


def test_a_crashing_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _worker(tmp_path, monkeypatch, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    error = failure(HELLO)
    assert "crashed (SIGSEGV)" in error.message


def test_a_parser_that_answers_nonsense(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _worker(tmp_path, monkeypatch, "import sys\nsys.stdout.write('not json')\nsys.exit(3)\n")
    error = failure(HELLO)
    assert error.message == "the PDF parser failed unexpectedly"


def test_the_child_sees_no_secret_of_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "parent-secret")
    _worker(
        tmp_path,
        monkeypatch,
        """
        import json, os, sys
        sys.stdin.buffer.read()
        print(json.dumps({"pages": [json.dumps(dict(os.environ)), " ".join(sys.argv[1:])]}))
        """,
    )
    environment, arguments = pdf_pages(HELLO, timeout=7, memory_bytes=300 * 1024 * 1024)
    assert "parent-secret" not in environment
    memory, cpu, pages, _chars = arguments.split()
    assert (int(memory), int(cpu), int(pages)) == (300 * 1024 * 1024, 8, pdf_module.MAX_PAGES)


def test_the_real_worker_sets_its_limits_first() -> None:
    source = pdf_module._WORKER.read_text()
    assert source.index("_limit(resource.RLIMIT_AS") < source.index("from pypdf import")
    assert sys.executable  # the child runs the same interpreter, in isolated mode (-I)
