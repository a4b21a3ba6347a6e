"""Importing shared.documents costs no Korean model load (kiwipiepy) and no pypdf."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import shared.documents as documents
before = {name: name in sys.modules for name in ("kiwipiepy", "pypdf")}
documents.terms("MicroK8s in English only")
english = "kiwipiepy" in sys.modules
documents.terms("한국어 문장")
from shared.documents import korean
print(json.dumps({"before": before, "english": english, "after": "kiwipiepy" in sys.modules,
                  "loaded": korean.loaded(), "same": korean.kiwi() is korean.kiwi()}))
"""


def test_importing_the_package_does_not_load_kiwipiepy_or_pypdf() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    state = json.loads(result.stdout)
    assert state["before"] == {"kiwipiepy": False, "pypdf": False}
    assert state["english"] is False  # English text never needs the analyzer
    assert state["after"] is True
    assert state["loaded"] is True
    assert state["same"] is True  # one cached instance
