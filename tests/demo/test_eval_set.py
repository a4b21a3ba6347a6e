"""The demo corpus and its evaluation set (shared/demo) are well formed.

The floors below are the real counts of the set when it was written; they keep it from
shrinking silently. The checks use only PyYAML and the standard library.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

DEMO = Path(__file__).resolve().parents[2] / "shared" / "demo"
CORPUS = DEMO / "corpus"
EVAL = DEMO / "eval.yaml"

MIN_DOCUMENTS = 5
MIN_WORDS = 6_000
MIN_ANSWERABLE = 45
MIN_UNANSWERABLE = 15
MIN_PER_KIND = 3  # answerable questions of each kind
KINDS = {"direct", "paraphrase", "cross-lingual", "morphology"}
LANGS = {"ko", "en"}
CONTAINS_MIN, CONTAINS_MAX = 10, 80

# Markdown markup would be stripped by extraction, so a `contains` holding it would never
# match a chunk; a sentence end followed by a space is where a sentence-aware chunker may cut.
_MARKUP = re.compile(r"[*`\[\]<>|]|__|  ")
_SENTENCE_BREAK = re.compile(r"[.!?。][\"')\]]*\s")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


def _is_hangul(ch: str) -> bool:
    code = ord(ch)
    return (
        0xAC00 <= code <= 0xD7A3  # syllables
        or 0x1100 <= code <= 0x11FF  # jamo
        or 0x3130 <= code <= 0x318F  # compatibility jamo
    )


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    return {path.name: path.read_bytes().decode("utf-8") for path in sorted(CORPUS.iterdir())}


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    assert set(data) == {"questions"}
    assert isinstance(data["questions"], list)
    return data["questions"]


def _answers(question: dict) -> list[dict]:
    return question.get("answers") or []


def test_corpus_holds_only_markdown_documents_with_a_title(documents: dict[str, str]) -> None:
    assert len(documents) >= MIN_DOCUMENTS
    for name, text in documents.items():
        assert name.endswith(".md"), name
        assert name.lower() != "readme.md", "the corpus is uploaded as-is: documents only"
        assert text.startswith("# "), name
        assert "\r" not in text, name


def test_corpus_is_rich_and_mostly_korean(documents: dict[str, str]) -> None:
    words = sum(len(text.split()) for text in documents.values())
    assert words >= MIN_WORDS
    letters = [ch for text in documents.values() for ch in text if ch.isalpha()]
    hangul = sum(1 for ch in letters if _is_hangul(ch))
    assert hangul / len(letters) >= 0.5
    names = set(documents)
    assert {"resume-ko.md", "resume-en.md", "career-ko.md"} <= names
    assert any(n.startswith("blog-ko-") for n in names)
    assert any(n.startswith("blog-en-") for n in names)


def test_questions_are_well_formed(questions: list[dict]) -> None:
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    for q in questions:
        assert set(q) <= {"id", "lang", "question", "answers", "kind", "answerable"}, q["id"]
        assert re.fullmatch(r"q\d{3}", q["id"]), q["id"]
        assert q["lang"] in LANGS, q["id"]
        assert q["kind"] in KINDS, q["id"]
        assert isinstance(q["question"], str), q["id"]
        assert q["question"].strip(), q["id"]
        has_hangul = any(_is_hangul(ch) for ch in q["question"])
        assert has_hangul == (q["lang"] == "ko"), q["id"]
        if q.get("answerable", True):
            assert _answers(q), f"{q['id']}: an answerable question names its answers"
        else:
            assert q["answerable"] is False, q["id"]
            assert not _answers(q), f"{q['id']}: an unanswerable question has no answers"


def test_every_contains_is_an_exact_short_span_of_one_block(
    questions: list[dict], documents: dict[str, str]
) -> None:
    for q in questions:
        for answer in _answers(q):
            assert set(answer) == {"document", "contains"}, q["id"]
            name, span = answer["document"], answer["contains"]
            where = f"{q['id']} {name}: {span!r}"
            assert name in documents, where
            assert CONTAINS_MIN <= len(span) <= CONTAINS_MAX, where
            assert span == span.strip(), where
            assert "\n" not in span, where
            assert not _MARKUP.search(span), where
            assert not _SENTENCE_BREAK.search(span), where
            text = documents[name]
            assert span.encode("utf-8") in text.encode("utf-8"), where
            lines = [line for line in text.splitlines() if span in line]
            assert any(not _HEADING.match(line) for line in lines), f"{where}: only in a heading"


def test_cross_lingual_answers_are_in_the_other_language(
    questions: list[dict], documents: dict[str, str]
) -> None:
    for q in questions:
        if q["kind"] != "cross-lingual":
            continue
        for answer in _answers(q):
            span_is_korean = any(_is_hangul(ch) for ch in answer["contains"])
            assert span_is_korean != (q["lang"] == "ko"), q["id"]


def test_counts_hold_their_floors(questions: list[dict]) -> None:
    answerable = [q for q in questions if _answers(q)]
    unanswerable = [q for q in questions if q.get("answerable") is False]
    assert len(answerable) + len(unanswerable) == len(questions)
    assert len(answerable) >= MIN_ANSWERABLE
    assert len(unanswerable) >= MIN_UNANSWERABLE
    korean = [q for q in questions if q["lang"] == "ko"]
    assert 2 * len(korean) >= len(questions)
    assert any(q["lang"] == "ko" for q in unanswerable)
    assert any(q["lang"] == "en" for q in unanswerable)
    kinds = Counter(q["kind"] for q in answerable)
    for kind in KINDS:
        assert kinds[kind] >= MIN_PER_KIND, kind
    cross = Counter(q["lang"] for q in answerable if q["kind"] == "cross-lingual")
    assert cross["ko"] >= MIN_PER_KIND
    assert cross["en"] >= MIN_PER_KIND
    assert all(q["lang"] == "ko" for q in answerable if q["kind"] == "morphology")


def test_every_document_answers_something(questions: list[dict], documents: dict[str, str]) -> None:
    cited = {a["document"] for q in questions for a in _answers(q)}
    assert cited == set(documents)
