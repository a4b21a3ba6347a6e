"""The ranking of talent search, over arrays: every discoverable person is a position in
arrays of their strengths, verdicts and scores, so that 10,000 people cost what a few
array operations do rather than a Python loop per person and criterion.

Inputs (shared/talent/search.py reads them): the people in slug order (their position
is their index), the postings of the search's index terms per term (chunk ids, counts,
person indexes), and per criterion the nearest chunks with their similarity.

Per criterion (not experience):

- each concept's count per chunk: a phrase counts where all its terms are, as often as
  its least frequent one; a concept, as its best phrase. Chunks that an exclude
  criterion matches (all its concepts) are no evidence for anything else;
- lexical strength: per person, each concept's count saturates (``tf / (tf + k1·norm)``,
  ``norm`` BM25's length normalisation by the person's chunk count) and weighs by its
  IDF over people; vector strength: the person's best scaled similarity; the strength
  mixes both (``lexical_weight``); coverage (the IDF share of the concepts they have at
  all) and similarity band the verdict;
- "too wide" when met by most people (weighs half); "dead" when nobody has evidence.

Scores: must criteria multiply (``floor`` keeps a missing one from zeroing a person),
nice-to-haves boost (capped), the whole search's similarity multiplies; years of
experience count only where a person's documents state them. Ties break by slug.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from shared.talent.criteria import Criterion, Phrase
from shared.talent.search import QUERY, Verdict

if TYPE_CHECKING:
    from shared.talent.search import SearchConfig

VERDICTS: tuple[Verdict, ...] = ("missing", "partial", "met")  # by code 0, 1, 2

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Years = dict[int, float]  # person index -> the most years their documents state


@dataclass(frozen=True)
class Hits:
    """Chunks with a count: chunk ids (each once), counts, the chunks' people."""

    chunks: Ints
    tf: Floats
    people: Ints

    @staticmethod
    def of(chunks: Sequence[int], tf: Sequence[float], people: Sequence[int]) -> Hits:
        return Hits(np.asarray(chunks, dtype=np.int64), np.asarray(tf, dtype=np.float64),
                    np.asarray(people, dtype=np.int64))  # fmt: skip

    @staticmethod
    def empty() -> Hits:
        return Hits(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int64))

    def where(self, keep: npt.NDArray[np.bool_]) -> Hits:
        return Hits(self.chunks[keep], self.tf[keep], self.people[keep])


@dataclass(frozen=True)
class Nearest:
    """A criterion's nearest chunks: ids, their people, scaled similarity (0..1)."""

    chunks: Ints
    people: Ints
    scaled: Floats

    @staticmethod
    def of(chunks: Sequence[int], people: Sequence[int], scaled: Sequence[float]) -> Nearest:
        return Nearest(np.asarray(chunks, dtype=np.int64), np.asarray(people, dtype=np.int64),
                       np.asarray(scaled, dtype=np.float64))  # fmt: skip


def postings(
    people: Sequence[str], rows: Sequence[tuple[str, list[int], list[int], list[bytes]]]
) -> dict[str, Hits]:
    """term -> its postings, from rows of (term, chunk ids, counts, bots' 16 bytes);
    bots not in ``people`` (no document ready) are dropped."""
    keys = np.array([bytes.fromhex(p.replace("-", "")) for p in people], dtype="S16")
    # Looked up by their first 8 bytes (as integers: fast), checked in full after; should
    # two people share them, by the 16 (slower, the same answer).
    first = keys.view(">u8").reshape(-1, 2)[:, 0] if len(keys) else np.empty(0, ">u8")
    exact = len(np.unique(first)) < len(first)
    lookup = keys if exact else first
    order = np.argsort(lookup, kind="stable")
    ranked = lookup[order]
    out: dict[str, Hits] = {}
    for term, chunks, tfs, bots in rows:
        found = np.array(bots, dtype="S16")
        wanted = found if exact else found.view(">u8").reshape(-1, 2)[:, 0]
        at = np.minimum(np.searchsorted(ranked, wanted), max(len(ranked) - 1, 0))
        person = order[at]
        known = keys[person] == found
        out[term] = Hits(np.asarray(chunks, dtype=np.int64)[known],
                         np.asarray(tfs, dtype=np.float64)[known], person[known])  # fmt: skip
    return out


def _phrase_hits(phrase: Phrase, postings: dict[str, Hits]) -> Hits:
    """Chunks holding every term of ``phrase``, counted by its least frequent term."""
    found = [postings.get(t) for t in phrase]
    if not found or any(h is None or not h.chunks.size for h in found):
        return Hits.empty()
    ordered = sorted((h for h in found if h is not None), key=lambda h: h.chunks.size)
    out = ordered[0]
    for other in ordered[1:]:
        _, mine, theirs = np.intersect1d(
            out.chunks, other.chunks, assume_unique=True, return_indices=True
        )
        out = Hits(out.chunks[mine], np.minimum(out.tf[mine], other.tf[theirs]),
                   out.people[mine])  # fmt: skip
    return out


def concept_hits(phrases: Sequence[Phrase], postings: dict[str, Hits]) -> Hits:
    """Chunks holding the concept, counted by its best phrase."""
    parts = [h for h in (_phrase_hits(p, postings) for p in phrases if p) if h.chunks.size]
    if not parts:
        return Hits.empty()
    if len(parts) == 1:
        return parts[0]
    chunks = np.concatenate([h.chunks for h in parts])
    tf = np.concatenate([h.tf for h in parts])
    people = np.concatenate([h.people for h in parts])
    order = np.lexsort((-tf, chunks))  # by chunk, the highest count first
    chunks, tf, people = chunks[order], tf[order], people[order]
    first = np.concatenate(([True], chunks[1:] != chunks[:-1]))
    return Hits(chunks[first], tf[first], people[first])


@dataclass(frozen=True)
class _Evidence:
    """What a criterion's chunk scores are made of (for the people shown only)."""

    k1: float
    weights: list[float]  # per concept: its share of the criterion's IDF
    concepts: list[Hits]
    nearest: Nearest | None


@dataclass
class Ranking:
    cfg: SearchConfig
    criteria: list[Criterion]  # all enabled ones, excludes included
    slugs: Sequence[str]  # person index -> slug
    strength: dict[str, Floats]  # criterion -> person -> 0..1
    verdict: dict[str, npt.NDArray[np.int8]]  # criterion -> person -> 0, 1, 2
    evidence: dict[str, _Evidence]
    too_wide: set[str]
    dead: set[str]
    fit: Floats  # person -> the whole search's scaled similarity
    order: list[tuple[int, float]] = field(default_factory=list)  # before years

    def strength_of(self, crit: str, person: int) -> float:
        values = self.strength.get(crit)
        return float(values[person]) if values is not None else 0.0

    def verdict_of(self, crit: str, person: int) -> Verdict:
        codes = self.verdict.get(crit)
        return VERDICTS[int(codes[person])] if codes is not None else "missing"

    def weight(self, c: Criterion) -> float:
        """A criterion's say in the score: by its type, half when too wide, none when
        nobody has any evidence for it."""
        if c.id in self.dead:
            return 0.0
        w = 0.5 if c.id in self.too_wide else 1.0
        cfg = self.cfg
        by_type = {"role": cfg.role_weight, "keyword": cfg.keyword_weight,
                   "domain": cfg.domain_weight}  # fmt: skip
        return w * by_type.get(c.type, 1.0)

    def best_chunks(self, crit: str, person: int, n: int) -> list[int]:
        """The person's ``n`` chunks that best show the criterion."""
        parts = self.evidence.get(crit)
        if parts is None:
            return []
        lexical = self.cfg.lexical_weight
        scores: dict[int, float] = {}
        for w, hits in zip(parts.weights, parts.concepts, strict=True):
            mine = hits.people == person
            for cid, tf in zip(hits.chunks[mine].tolist(), hits.tf[mine].tolist(), strict=True):
                scores[cid] = scores.get(cid, 0.0) + lexical * w * tf / (tf + parts.k1)
        if parts.nearest is not None:
            near = parts.nearest
            mine = near.people == person
            for cid, s in zip(near.chunks[mine].tolist(), near.scaled[mine].tolist(), strict=True):
                scores[cid] = scores.get(cid, 0.0) + (1 - lexical) * s
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [cid for cid, score in ranked if score > 0][:n]

    def rescore(self, years: Years) -> list[tuple[int, float]]:
        """(person, score) of everyone who matches, best first: evidence (at least
        partial) for one of the must criteria, or, with none, for one of the
        nice-to-haves."""
        cfg = self.cfg
        n = len(self.slugs)
        known = np.zeros(n, dtype=bool)
        stated = np.zeros(n)
        for person, value in years.items():
            known[person] = True
            stated[person] = value
        product = np.ones(n)
        boost = np.zeros(n)
        evidenced = np.zeros(n, dtype=bool)
        nice_evidenced = np.zeros(n, dtype=bool)
        scored_musts = False
        for c in self.criteria:
            if c.kind == "exclude":
                continue
            w = self.weight(c)
            if c.type == "experience":
                wanted = c.min_years or 0.0
                s = np.where(known, _years_strength_array(stated, wanted), 0.0)
                if c.kind == "must":  # not stated: no evidence either way
                    product *= np.where(known, (cfg.floor + (1 - cfg.floor) * s) ** w, 1.0)
                else:
                    boost += cfg.nice_weight * w * s
                continue
            s = self.strength[c.id]
            some = self.verdict[c.id] > 0
            if c.kind == "must":
                product *= (cfg.floor + (1 - cfg.floor) * s) ** w
                if w > 0:
                    evidenced |= some
                    scored_musts = True
            else:
                boost += cfg.nice_weight * w * s
                if w > 0:
                    nice_evidenced |= some
        if scored_musts:
            score = (
                product * (1 + np.minimum(cfg.nice_cap, boost)) * (1 + cfg.query_weight * self.fit)
            )
            matched = evidenced & (score > 0)
        else:
            score, matched = boost, nice_evidenced & (boost > 0)
        people = np.flatnonzero(matched)
        values = np.round(score[people], 9)
        order = np.lexsort((people, -values))  # ties: by slug (people are in slug order)
        return [(int(people[i]), float(score[people[i]])) for i in order]


def _years_strength_array(stated: Floats, wanted: float) -> Floats:
    if wanted <= 0:
        return np.ones_like(stated)
    return np.where(stated >= wanted, 1.0, np.where(stated >= 0.7 * wanted, 0.3, 0.05))


def rank(
    cfg: SearchConfig,
    criteria: list[Criterion],
    slugs: Sequence[str],
    chunks: Sequence[int],
    postings: dict[str, Hits],
    nearest: dict[str, Nearest],
) -> Ranking:
    """``chunks``: each person's chunk count (length normalisation)."""
    n = len(slugs)
    people = max(n, 1)
    sizes = np.asarray(chunks, dtype=np.float64)
    average = float(sizes.mean()) if n else 1.0
    norm = 1 - cfg.b + cfg.b * sizes / max(average, 1.0)
    concepts: dict[tuple[Phrase, ...], Hits] = {}

    def hits_of(phrases: tuple[Phrase, ...]) -> Hits:
        if phrases not in concepts:
            concepts[phrases] = concept_hits(phrases, postings)
        return concepts[phrases]

    vetoed = np.empty(0, np.int64)
    for c in criteria:
        if c.kind == "exclude" and c.concepts:
            sets = [hits_of(k.phrases).chunks for k in c.concepts]
            both = sets[0]
            for other in sets[1:]:
                both = np.intersect1d(both, other, assume_unique=True)
            vetoed = np.union1d(vetoed, both)

    strength: dict[str, Floats] = {}
    verdict: dict[str, npt.NDArray[np.int8]] = {}
    evidence: dict[str, _Evidence] = {}
    for c in criteria:
        if c.type == "experience":
            continue
        k1 = cfg.role_k1 if c.type == "role" else cfg.k1
        found: list[Hits] = []
        for k in c.concepts:
            hits = hits_of(k.phrases)
            if c.kind != "exclude" and vetoed.size and hits.chunks.size:
                hits = hits.where(~np.isin(hits.chunks, vetoed, assume_unique=True))
            found.append(hits)
        counts = [np.bincount(h.people, weights=h.tf, minlength=n) for h in found]
        idf = [math.log(1 + (people - df + 0.5) / (df + 0.5))
               for df in (int(np.count_nonzero(p)) for p in counts)]  # fmt: skip
        total = sum(idf) or 1.0
        lexical = np.zeros(n)
        covered = np.zeros(n)
        for w, tf in zip(idf, counts, strict=True):
            lexical += w * tf / (tf + k1 * norm)
            covered += w * (tf > 0)
        near = nearest.get(c.id)
        if near is not None and c.kind != "exclude" and vetoed.size and near.chunks.size:
            keep = ~np.isin(near.chunks, vetoed)
            near = Nearest(near.chunks[keep], near.people[keep], near.scaled[keep])
        similarity = np.zeros(n)
        if near is not None and near.chunks.size:
            np.maximum.at(similarity, near.people, near.scaled)
        if c.concepts:
            s = cfg.lexical_weight * lexical / total + (1 - cfg.lexical_weight) * similarity
            share = covered / total
        else:
            s, share = similarity, np.zeros(n)
        met = (share >= 0.999) | (similarity >= cfg.met_similarity)
        partial = (share >= cfg.partial_coverage) | (similarity >= cfg.partial_similarity)
        strength[c.id] = s
        verdict[c.id] = np.where(met, 2, np.where(partial, 1, 0)).astype(np.int8)
        evidence[c.id] = _Evidence(k1, [w / total for w in idf], found, near)
    too_wide: set[str] = set()
    if n >= cfg.too_wide_min_people:
        for c in criteria:
            if c.type == "experience" or c.kind == "exclude":
                continue
            if int(np.count_nonzero(verdict[c.id] == 2)) > cfg.too_wide_share * n:
                too_wide.add(c.id)
    dead = {
        c.id for c in criteria if c.type != "experience" and not bool((strength[c.id] > 0).any())
    }
    fit = np.zeros(n)
    whole = nearest.get(QUERY)
    if whole is not None and whole.chunks.size:
        np.maximum.at(fit, whole.people, whole.scaled)
    ranking = Ranking(cfg, list(criteria), slugs, strength, verdict, evidence, too_wide,
                      dead, fit)  # fmt: skip
    ranking.order = ranking.rescore({})
    return ranking
