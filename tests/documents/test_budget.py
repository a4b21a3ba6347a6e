"""Pathological text inputs: each ends ``failed`` (or succeeds) under the time budget,
never hangs. Each case runs in a child process with a hard kill far above the budget:
a case the budget cannot stop (a regex that backtracks inside one C call, one huge
analyzer call) is killed there and the test fails; no time is asserted otherwise."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared.documents.budget import check, remaining, time_budget
from shared.documents.errors import ExtractionFailed
from tests.conftest import ROOT

BUDGET = 2.0
HARD_KILL = 120  # seconds: generating 10 MB and loading kiwipiepy fit far below it
MB = 10 * 1024 * 1024

# name: (Python expression building the bytes, media type)
CASES = {
    "10 MB single line of words": ("('lorem ipsum dolor ' * (MB // 18)).encode()", "text/plain"),
    "10 MB single line without spaces": ("b'a' * MB", "text/plain"),
    "10 MB single Markdown line": ("('word ' * (MB // 5)).encode()", "text/markdown"),
    "deeply nested HTML": ("b'<div>' * (MB // 5)", "text/html"),
    "nested HTML with '<' in never-closed tags": ("b'<a' * (MB // 2)", "text/html"),
    "1M Markdown list markers": ("b'-\\n' * 1_000_000", "text/markdown"),
    "1M Markdown list items": ("b'- a\\n' * 1_000_000", "text/markdown"),
    "1M plain-text bullets": ("b'- a\\n' * 1_000_000", "text/plain"),
    "2M emphasis openers": ("b'*a' * 2_000_000", "text/markdown"),
    "2M link brackets": ("b'[' * 2_000_000", "text/markdown"),
    "unclosed front matter": ("b'---\\n' + b'x\\n' * 3_000_000", "text/markdown"),
    "front-matter title of spaces": (
        "b'---\\ntitle: a' + b' ' * 2_000_000 + b'b\\n---\\n# x\\n'", "text/markdown"),
    # catastrophic backtracking candidates, one per pattern that had it
    "a run of 200K '!' (sentence boundary)": ("b'!' * 200_000", "text/plain"),
    "a 200K letter run before a full stop": (
        "b'Ab. ' + b'a' * 200_000 + b'1. Next'", "text/plain"),
    "400K skipped boundaries ('e.g. ')": ("b'e.g. ' * 400_000", "text/plain"),
    "a 200K style attribute without a colon": (
        "b'<p style=\"' + b'a' * 200_000 + b'\">x</p>'", "text/html"),
    "an unclosed CSS comment in a style attribute": (
        "b'<p style=\"' + b'/*' * 200_000 + b'\">x</p>'", "text/html"),
    "a 100K-digit font size": (
        "b'<p style=\"font-size:' + b'1' * 100_000 + b'x\">x</p>'", "text/html"),
    "2000 hiding CSS rules over 300K elements": (
        "b'<style>' + b'div{display:none}' * 2000 + b'</style>' + b'<div>a</div>' * 300_000"
        " + b'<p>ok.</p>'", "text/html"),
    "a 2M-character Korean paragraph": (
        "('분산 시스템과 메시지 큐 운영 경험 ' * 95_000).encode()", "text/plain"),
}  # fmt: skip

_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from shared.content.embedding import _prepare
from shared.documents.errors import DocumentError
MB = {mb}
data = {expr}
started = time.monotonic()
try:
    prepared = _prepare(data, {media!r}, "case", {budget})
    out = {{"outcome": "ready", "chunks": len(prepared.rows)}}
except DocumentError as exc:
    out = {{"outcome": "failed", "code": exc.code, "reason": exc.message}}
print(json.dumps(out))
"""


@pytest.mark.parametrize("case", list(CASES))
def test_pathological_input_ends_within_the_budget(case: str) -> None:
    expr, media = CASES[case]
    code = _CHILD.format(root=str(ROOT), mb=MB, expr=expr, media=media, budget=BUDGET)
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=HARD_KILL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: still running after {HARD_KILL} s with a {BUDGET:g} s budget")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["outcome"] == "failed":
        assert result["code"] in {"too_slow", "too_much_text", "parse_failed", "no_text"}
        assert result["reason"]
        if result["code"] == "too_slow":
            assert f"longer than {BUDGET:g} s" in result["reason"]
    else:
        assert result["chunks"] > 0


def test_check_raises_only_past_the_deadline_and_only_inside_a_budget() -> None:
    check()  # no budget: nothing to enforce
    assert remaining(30.0) == 30.0
    with time_budget(3600):
        check()
        assert 0 < remaining(30.0) <= 30.0
    with time_budget(0), pytest.raises(ExtractionFailed) as caught:
        check()
    assert caught.value.code == "too_slow"
    assert "longer than 0 s" in caught.value.message
    check()  # the budget ended with its block
