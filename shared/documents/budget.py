"""A time budget for reading one document: a deadline the loops check.

Extraction of text formats, chunking and the lexical analysis run in the embed
process (a subprocess per document would cost more than the work: see
``bench``/the issue notes, ~0.1 s of imports plus 2-3 s to load the Korean analyzer,
against ~0.1 s to read a 10-page resume). Instead every loop that grows with the input
calls ``check()``, and no single step between two checks can grow worse than linearly
with the input (the regular expressions are written so, markdown-it gets a rule that
checks, kiwipiepy is fed bounded windows). PDF keeps its subprocess (pypdf can hang or
explode inside one call) and gets what is left of the budget as its timeout.

    with time_budget(60):
        doc = extract(data, media_type)   # ExtractionFailed(code="too_slow") past 60 s
        chunks = chunk(doc)

Outside a ``time_budget`` block ``check()`` does nothing. The deadline is a context
variable, so it follows ``asyncio.to_thread`` and is private to each document.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from shared.documents.errors import ExtractionFailed

# A 10-page resume takes ~0.1 s and a 2-million-character document (the size limit)
# 10-30 s; the embed Trigger waits 300 s for the whole event.
TIME_BUDGET_SECONDS = 60.0

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("document_deadline", default=None)


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Run the block under a deadline ``seconds`` from now."""
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def check() -> None:
    """Raise ``ExtractionFailed`` (``too_slow``) once the current budget is spent."""
    current = _deadline.get()
    if current is not None and time.monotonic() > current[0]:
        raise ExtractionFailed(
            f"reading the document took longer than {current[1]:g} s, the limit; it may "
            "be damaged or built to stall the parser: simplify it or split it",
            code="too_slow",
        )


def remaining(default: float) -> float:
    """Seconds left in the budget (at most ``default``; ``default`` outside a budget)."""
    current = _deadline.get()
    if current is None:
        return default
    return max(min(default, current[0] - time.monotonic()), 0.1)
