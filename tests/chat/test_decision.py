"""The answer/refuse decision and the sources a visitor sees (units, no database)."""

from __future__ import annotations

from dataclasses import replace

from bench.eval import fit
from shared.chat.decision import FALLBACK_MODEL, FEATURES, OFFLINE_MODEL, Model, decide
from shared.chat.retrieval import Hit, Retrieval, name_concepts, question_terms
from shared.chat.service import shown_passages


def _hit(i: int, score: float, concepts: set[int], language: str = "en") -> Hit:
    return Hit(i, "d", "t", "", language, f"text {i}", score=score, bm25=score,
               coverage=0.0, concepts=frozenset(concepts))  # fmt: skip


def _retrieval(hits: list[Hit], weights: tuple[float, ...], present: tuple[bool, ...],
               names: frozenset[int] = frozenset()) -> Retrieval:  # fmt: skip
    best = max((sum(weights[c] for c in h.concepts) / sum(weights) for h in hits), default=0.0)
    return Retrieval(
        hits=hits,
        terms=[str(i) for i in range(len(weights))],
        similarity=None,
        coverage=best,
        vector_model=None,
        concepts=list(range(len(weights))),
        weights=weights,
        present=present,
        spelled=present,
        names=names,
        lexical=hits,
        vector=[],
    )


def test_the_top_retrieved_passage_is_always_a_source() -> None:
    hits = [_hit(1, 1.0, {0}), _hit(2, 0.2, {0}), _hit(3, 0.6, {1})]
    assert shown_passages(hits) == [1, 3]  # rank order, above half the best's score
    assert shown_passages([_hit(1, 0.01, set())]) == [1]
    assert shown_passages([]) == []


def test_full_evidence_answers_and_a_missing_name_refuses() -> None:
    hits = [_hit(1, 1.0, {0, 1, 2})]
    full = _retrieval(hits, (2.0, 1.0, 1.0), (True, True, True))
    assert decide(full, "en", frozenset({"en"}), OFFLINE_MODEL).answerable
    # The question names something (concept 0) the bot never uses.
    partial = _retrieval([_hit(1, 1.0, {1, 2})], (3.0, 1.0, 1.0), (False, True, True),
                         names=frozenset({0}))  # fmt: skip
    decision = decide(partial, "en", frozenset({"en"}), OFFLINE_MODEL)
    assert not decision.answerable
    assert decision.evidence.absent_name
    assert decision.view()["absent_name"] is True
    assert not decide(_retrieval([], (1.0,), (False,)), "en", frozenset(), OFFLINE_MODEL).answerable


def test_names_are_the_question_words_that_name_things() -> None:
    q = "Has he written production code in Rust?"
    words, concepts = question_terms(q)
    assert {words[concepts.index(c)] for c in name_concepts(q, words, concepts)} == {"rust"}
    q = "Go 언어로 서비스를 개발해 본 경험이 있나요?"
    words, concepts = question_terms(q)
    assert {words[concepts.index(c)] for c in name_concepts(q, words, concepts)} == {"go"}


def test_fit_learns_a_separable_rule() -> None:
    rows = [dict.fromkeys(FEATURES, 0.0) | {"coverage": c} for c in (0.1, 0.2, 0.8, 0.9)]
    model = fit(rows, [False, False, True, True], l2=0.001, steps=2000)
    assert isinstance(model, Model)
    assert model.weights["coverage"] > 0
    assert model.probability(rows[0]) < 0.5 < model.probability(rows[3])


def test_the_uncalibrated_fallback_keeps_its_either_or_floors() -> None:
    weak = _retrieval([_hit(1, 1.0, {0})], (1.0, 9.0), (True, True))  # coverage 0.1
    weak = replace(weak, similarity=0.55, vector=[_hit(1, 1.0, set())])
    assert not decide(weak, "en", frozenset({"en"}), FALLBACK_MODEL).answerable
    strong = replace(weak, similarity=0.65)
    assert decide(strong, "en", frozenset({"en"}), FALLBACK_MODEL).answerable
    covered = replace(weak, coverage=0.5, similarity=None, vector=[])
    assert decide(covered, "en", frozenset({"en"}), FALLBACK_MODEL).answerable
