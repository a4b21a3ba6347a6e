"""PDF text per page, from pypdf in a child process with wall-time and memory limits.

A PDF can make a parser loop for minutes or allocate gigabytes. The child gets an
address-space limit (``RLIMIT_AS``), a CPU-time limit, no core files and no file
writes; the parent waits at most ``timeout`` seconds, then kills it. Whatever happens
in the child, the parent raises ``ExtractionFailed`` with a human reason and stays
healthy. The child runs in isolated mode (``-I``) with an empty environment: no
secret of the service is visible to the code that parses untrusted bytes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from shared.documents.budget import remaining
from shared.documents.errors import ExtractionFailed

TIMEOUT_SECONDS = 30.0  # a 10-page resume takes well under a second
MEMORY_BYTES = 768 * 1024 * 1024  # address space: Python + pypdf need ~40 MiB of it
MAX_PAGES = 500
MAX_CHARS = 2_000_000
_WORKER = Path(__file__).with_name("_pdfworker.py")
_MIB = 1024 * 1024


def pdf_pages(
    data: bytes,
    *,
    timeout: float = TIMEOUT_SECONDS,
    memory_bytes: int = MEMORY_BYTES,
    max_pages: int = MAX_PAGES,
) -> list[str]:
    """The text of each page; ``ExtractionFailed`` if the parser fails, hangs or explodes.

    Under a ``time_budget`` the timeout is at most what is left of it."""
    timeout = remaining(timeout)
    cpu_seconds = max(int(timeout) + 1, 1)
    command = [
        sys.executable,
        "-I",
        str(_WORKER),
        str(memory_bytes),
        str(cpu_seconds),
        str(max_pages),
        str(MAX_CHARS),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise ExtractionFailed(
            f"reading the PDF took longer than {timeout:g} s; the file may be damaged "
            "or built to stall the parser",
            code="parse_failed",
        ) from None
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return _answer(process.returncode, stdout, stderr, memory_bytes, max_pages)


def _answer(
    returncode: int, stdout: bytes, stderr: bytes, memory_bytes: int, max_pages: int
) -> list[str]:
    try:
        payload = json.loads(stdout) if stdout else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        pages = payload.get("pages")
        if isinstance(pages, list) and all(isinstance(p, str) for p in pages):
            return pages
        if "error" in payload:
            raise ExtractionFailed(
                _reason(
                    str(payload["error"]), str(payload.get("message", "")), memory_bytes, max_pages
                ),
                code="too_much_text" if payload["error"] == "too_much_text" else "parse_failed",
            )
    if returncode < 0:
        number = -returncode
        if number == signal.SIGXCPU:
            reason = "reading the PDF used too much CPU time"
        elif number == signal.SIGKILL:
            reason = "the PDF parser was stopped (memory or time limit)"
        else:
            reason = f"the PDF parser crashed ({signal.Signals(number).name})"
    elif b"MemoryError" in stderr:
        reason = _reason("memory", "", memory_bytes, max_pages)
    else:
        reason = "the PDF parser failed unexpectedly"
    raise ExtractionFailed(reason, code="parse_failed")


def _reason(kind: str, message: str, memory_bytes: int, max_pages: int) -> str:
    if kind == "memory":
        return f"reading the PDF needed more than {memory_bytes // _MIB} MiB of memory"
    if kind == "encrypted":
        return "the PDF is password-protected; upload it without a password"
    if kind == "too_many_pages":
        return f"the PDF has {message} pages, more than the {max_pages} allowed"
    if kind == "too_much_text":
        return f"the PDF has more than {MAX_CHARS:,} characters of text; split it"
    return f"the PDF could not be read ({message})" if message else "the PDF could not be read"
