"""The one Korean analyzer (kiwipiepy), loaded on first use.

Loading the model takes 1-3 s and ~100 MB, so nothing imports kiwipiepy at module
import time: only ``kiwi()`` does, once per process, under a lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi  # type: ignore[import-untyped]

_lock = threading.Lock()
_instance: Kiwi | None = None


def kiwi() -> Kiwi:
    """The process-wide ``kiwipiepy.Kiwi``, created on the first call."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                from kiwipiepy import Kiwi

                _instance = Kiwi()
    return _instance


def loaded() -> bool:
    """Whether the analyzer has been loaded in this process (for health and tests)."""
    return _instance is not None
