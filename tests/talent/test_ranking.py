"""The ranking's array pieces: concepts counted in chunks as the docstring says."""

from __future__ import annotations

import numpy as np

from shared.talent.ranking import Hits, concept_hits, postings


def _hits(pairs: dict[int, tuple[int, int]]) -> Hits:
    """chunk -> (count, person)."""
    chunks = sorted(pairs, reverse=True)  # postings need not come in order
    return Hits(np.array(chunks), np.array([float(pairs[c][0]) for c in chunks]),
                np.array([pairs[c][1] for c in chunks]))  # fmt: skip


def _as_dict(hits: Hits) -> dict[int, tuple[float, int]]:
    return {int(c): (float(t), int(p))
            for c, t, p in zip(hits.chunks, hits.tf, hits.people, strict=True)}  # fmt: skip


POSTINGS = {
    "java": _hits({1: (3, 0), 2: (1, 0), 3: (2, 1), 5: (4, 2)}),
    "develop": _hits({1: (1, 0), 3: (5, 1), 4: (2, 1)}),
    "kotlin": _hits({2: (2, 0), 4: (1, 1)}),
}


def test_a_phrase_counts_where_all_its_terms_are_as_often_as_the_least_frequent() -> None:
    found = concept_hits([("java", "develop")], POSTINGS)
    assert _as_dict(found) == {1: (1.0, 0), 3: (2.0, 1)}


def test_a_concept_counts_as_its_best_phrase_in_each_chunk() -> None:
    found = concept_hits([("java", "develop"), ("kotlin",), ("java",)], POSTINGS)
    assert _as_dict(found) == {1: (3.0, 0), 2: (2.0, 0), 3: (2.0, 1), 4: (1.0, 1), 5: (4.0, 2)}


def test_a_term_nobody_wrote_matches_nothing() -> None:
    assert concept_hits([("java", "cobol")], POSTINGS).chunks.size == 0
    assert concept_hits([("cobol",), ()], POSTINGS).chunks.size == 0


def test_postings_find_each_chunks_person_and_drop_bots_not_searched() -> None:
    import uuid

    people = [str(uuid.UUID(int=(7 << 64) + i)) for i in range(3)]  # same first 8 bytes
    people += [str(uuid.uuid4()) for _ in range(50)]
    stranger = uuid.uuid4().bytes
    rows = [("java", [10, 11, 12, 13], [1, 2, 3, 4],
             [uuid.UUID(people[2]).bytes, stranger, uuid.UUID(people[40]).bytes,
              uuid.UUID(people[0]).bytes])]  # fmt: skip
    hits = postings(people, rows)["java"]
    assert hits.chunks.tolist() == [10, 12, 13]
    assert hits.people.tolist() == [2, 40, 0]
    assert hits.tf.tolist() == [1.0, 3.0, 4.0]
    unique = [str(uuid.uuid4()) for _ in range(50)]  # the fast path (first bytes differ)
    rows = [("go", [1, 2], [5, 6], [uuid.UUID(unique[49]).bytes, stranger])]
    assert postings(unique, rows)["go"].people.tolist() == [49]
