"""Child process that reads a PDF with pypdf: run only by ``shared.documents.pdf``.

Usage: ``python -I _pdfworker.py MEMORY_BYTES CPU_SECONDS MAX_PAGES MAX_CHARS``, the
PDF on stdin. Limits are set FIRST, before pypdf is imported or a byte is parsed. The
answer is one JSON object on stdout: ``{"pages": [...]}`` or ``{"error": kind,
"message": ...}``. Standalone on purpose (stdlib and pypdf only): it runs in isolated
mode, away from the service's environment and secrets.
"""

from __future__ import annotations

import json
import resource
import sys


def _limit(kind: int, value: int) -> None:
    """Lower both the soft and the hard limit: the parser cannot raise them again."""
    _soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _answer(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=True))
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    memory, cpu_seconds, max_pages, max_chars = (int(a) for a in argv[1:5])
    _limit(resource.RLIMIT_AS, memory)
    _limit(resource.RLIMIT_CPU, cpu_seconds)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_FSIZE, 0)  # the parser writes no file
    data = sys.stdin.buffer.read()
    try:
        import io
        import logging

        logging.disable(logging.CRITICAL)  # pypdf logs every oddity of a PDF
        from pypdf import PasswordType, PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        # Many PDFs are encrypted with an empty user password (only to restrict editing).
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            _answer({"error": "encrypted", "message": "the PDF is password-protected"})
            return 0
        count = len(reader.pages)
        if count > max_pages:
            _answer({"error": "too_many_pages", "message": str(count)})
            return 0
        pages: list[str] = []
        total = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            total += len(text)
            if total > max_chars:
                _answer({"error": "too_much_text", "message": str(total)})
                return 0
            pages.append(text)
    except MemoryError:
        _answer({"error": "memory", "message": "out of memory"})
        return 0
    except RecursionError:
        _answer({"error": "parse", "message": "the PDF's structure is nested too deeply"})
        return 0
    except Exception as exc:  # anything pypdf raises on a malformed file
        _answer({"error": "parse", "message": f"{type(exc).__name__}: {exc}"[:300]})
        return 0
    _answer({"pages": pages})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
