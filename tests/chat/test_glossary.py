"""The glossary's stored index terms are what the analyzer makes of its words."""

from __future__ import annotations

from shared.chat import glossary
from shared.chat.retrieval import question_terms
from shared.documents.lexical import terms


def test_the_term_columns_are_current() -> None:
    rows = glossary.read_pairs()
    assert len(rows) >= 150
    for en, ko, en_terms, ko_terms in rows:
        # (A term with a space, which kiwipiepy makes of a few names, is kept by parts.)
        assert set(" ".join(terms(en)).split()) == set(en_terms.split()), en
        assert set(" ".join(terms(ko)).split()) <= set(ko_terms.split()), ko
        assert ko_terms, ko


def test_translations_join_the_question_as_the_same_concept() -> None:
    words, concepts = question_terms("Does he hold any certificates?")
    assert "자격증" in words
    assert concepts[words.index("자격증")] == concepts[words.index("certif")]
    words, concepts = question_terms("처리량은 얼마나 늘었나요?")
    assert "throughput" in words
    assert concepts[words.index("throughput")] == concepts[words.index("처리")]
    # A question word with no entry stays alone.
    words, _ = question_terms("Kafka")
    assert [w for w in words if not w.startswith("%")] == ["kafka"]
