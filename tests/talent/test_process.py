"""The talent function's process: a light cold path (nothing heavy loads at import),
and a heap settled after its first search (shared.resources)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

_CODE = """
import gc
from shared.resources import settle_heap
cycle = []
cycle.append(cycle)  # garbage a full collection frees before the freeze
del cycle
before = gc.get_freeze_count()
settle_heap()
frozen = gc.get_freeze_count()
settle_heap()
print(before, frozen, gc.get_freeze_count(), gc.garbage == [])
"""


_COLD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("main", "functions/talent/main.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
heavy = ("numpy", "kiwipiepy", "google.genai", "openai", "torch")
print(json.dumps([name for name in heavy if name in sys.modules]))
"""


def test_importing_the_function_loads_no_arrays_analyzer_or_model_sdk() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _COLD], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []  # they load with the first search that needs them


def test_the_first_requests_heap_is_frozen_once_after_a_collection() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CODE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    before, frozen, again, clean = int(out[0]), int(out[1]), int(out[2]), out[3]
    assert before == 0
    assert frozen > 1000  # the modules, the settings: everything loaded so far
    assert again == frozen  # idempotent: later objects are collected as ever
    assert clean == "True"


async def test_the_talent_function_settles_after_serving_a_search(
    client: httpx.AsyncClient, hr: dict[str, str]
) -> None:
    # Nothing but settle_heap freezes (the talent function runs in this process here).
    reply = await client.post("/api/talent/search", json={"query": "Kotlin developer"}, headers=hr)
    assert reply.status_code == 201, reply.text
    assert gc.get_freeze_count() > 0
