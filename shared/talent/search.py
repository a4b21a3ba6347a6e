"""Evidence per criterion across every discoverable person, and the ranking.

One read-only transaction with ``app.talent`` on: row-level security (migrations 0011,
0012) lets it read the chunks, postings and documents of discoverable bots and nothing
else, so a bot whose owner turned discoverable off is not in any statement's reach.

Per criterion, two legs in SQL over all those chunks:

- lexical: the postings of the criterion's index terms (chunk -> count; one statement
  for all criteria, from a covering index); a concept (one thing asked for, every way of
  writing it) is in a chunk when all terms of one of its phrases are; per person its
  count saturates (``tf / (tf + k1)``) and weighs by its inverse document frequency
  over people, so "developer" weighs little and "Hibernate" much;
- vector: the nearest chunks to the criterion's English text (HNSW, iterative scan),
  one LATERAL statement for all criteria; per person the best cosine, scaled between
  the embedding space's "unrelated" and "same thing" similarities.

A person's strength on a criterion mixes both legs; ``met``/``partial``/``missing`` are
bands of it. Years of experience are read from the person's own statements ("5 years
of experience", "Experience - 24 months", "2014 - 2019", "경력 3년").

Scoring: must criteria multiply (a missing one shrinks the score, never to zero:
evidence can hide), nice-to-have criteria boost with a cap, exclude criteria veto the
chunks that match them (they are no evidence for anything else), not the person. A
criterion that most people meet is "too wide" and weighs half. A person is matched
when at least one enabled must criterion (or, with none, one nice-to-have) is at least
partial; the product ranks those who meet more of them first (years that the documents
do not state count against no one). Ties break by slug: the same query over the same
data ranks the same.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from shared.chat.retrieval import vector_literal
from shared.db.unit import scope
from shared.embeddings import EmbeddingProvider
from shared.talent.criteria import Criterion

if TYPE_CHECKING:  # the ranking (numpy) loads with the first search, not at import
    from shared.talent.ranking import Hits, Nearest, Ranking

Verdict = Literal["met", "partial", "missing"]
QUERY = "query"  # the vector leg of the whole search
VECTOR_TYPES = frozenset(("role", "keyword"))  # criteria searched by vectors too


@dataclass(frozen=True)
class SearchConfig:
    # Measured with `task eval:talent` on the tuning set (never the held-out one).
    lexical_weight: float = 0.8  # the rest is the vector leg's
    k1: float = 1.2  # saturation of a concept's count in a person's documents
    # A role saturates later: a Java developer writes "Java" ten times, a DevOps
    # engineer who used it once writes it once.
    role_k1: float = 4.0
    b: float = 0.75  # length normalisation of the counts (BM25's b), by person
    met: float = 0.45  # strength bands (years of experience)
    partial: float = 0.2
    # verdict bands: the share of a criterion's concepts (by weight) a person's documents
    # hold, or the scaled similarity of their closest passage
    partial_coverage: float = 0.34
    met_similarity: float = 0.85
    partial_similarity: float = 0.5
    floor: float = 0.2  # what a missing must criterion still leaves of the score
    # A criterion's say by its type (an exponent of its factor): the role is what the
    # search is about; a bare keyword is the parser's guess at what matters.
    role_weight: float = 5.0  # 3 before the lexicon had 800 entries: 0.603 -> 0.608 at 5
    domain_weight: float = 0.75
    keyword_weight: float = 0.5
    query_weight: float = 1.0  # the whole search's similarity: score x (1 + this x it)
    nice_weight: float = 0.25
    nice_cap: float = 0.5
    too_wide_share: float = 0.6  # met by more than this share of people: too wide
    too_wide_min_people: int = 10
    # nearest chunks per criterion (300/200 score the same on the tuning set and cost a
    # third more at 10,000 people)
    vector_k: int = 200
    ef_search: int = 100
    evidence_per_criterion: int = 2
    snippet_chars: int = 220


# Cosine similarity of "unrelated" and "the same thing" per embedding space: the vector
# leg's strength is the similarity scaled between them.
SIMILARITY_BANDS: dict[str, tuple[float, float]] = {
    "local:all-MiniLM-L6-v2": (0.2, 0.6),
    "gemini:gemini-embedding-001@768": (0.45, 0.8),
}
DEFAULT_BAND = (0.3, 0.7)


@dataclass(frozen=True)
class Person:
    bot_id: str
    slug: str
    name: str
    owner_id: str
    chunks: int = 1  # how many chunks their documents hold (length normalisation)


@dataclass(frozen=True)
class Evidence:
    document_id: str
    title: str
    snippet: str


@dataclass(frozen=True)
class Finding:
    criterion: str
    verdict: Verdict
    strength: float
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Match:
    person: Person
    score: float
    headline: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Outcome:
    matches: list[Match]
    people_searched: int
    matched: int
    too_wide: frozenset[str] = frozenset()
    timings: dict[str, float] = field(default_factory=dict)


_PEOPLE = """
SELECT t.id::text, t.slug, t.name, t.owner_id::text, d.chunks
FROM talent_bots() AS t
JOIN (SELECT bot_id, sum(chunk_count)::int AS chunks
      FROM documents WHERE status = 'ready' GROUP BY bot_id) AS d ON d.bot_id = t.id
WHERE d.chunks > 0
ORDER BY t.slug
"""
# Every posting of the search's index terms, a row per term (chunk ids, counts, the
# chunks' bots as 16 bytes each), from the postings' covering index in its order
# (chunk_terms, migration 0012): never the chunks' own rows (their term arrays,
# de-TOASTed, cost seconds at 10,000 people). People are found by the bytes in numpy
# (a join to the list of people in SQL cost twice the statement).
_LEXICAL = """
SELECT term, array_agg(chunk_id), array_agg(tf), array_agg(uuid_send(bot_id))
FROM chunk_terms
WHERE term = ANY(%(terms)s::text[])
GROUP BY term
"""
_PERSON_TEXTS = """
SELECT c.id, c.text, d.title, c.bot_id::text, c.document_id::text
FROM chunks AS c JOIN documents AS d ON d.id = c.document_id
WHERE c.bot_id = ANY(%(bots)s::uuid[])
ORDER BY c.bot_id, d.created_at, d.id, c.ordinal
"""


def _vector_query(model: str, dims: int) -> sql.Composed:
    # The model is a literal so that the planner uses that space's partial HNSW index.
    cast = sql.SQL("c.embedding::vector({})").format(sql.Literal(dims))
    qvec = sql.SQL("q.vec::vector({})").format(sql.Literal(dims))
    return sql.SQL(
        "SELECT q.i, v.id, v.bot_id::text, v.sim FROM unnest(%(vecs)s::text[]) "
        "WITH ORDINALITY AS q(vec, i) CROSS JOIN LATERAL ("
        "SELECT c.id, c.bot_id, 1 - ({cast} <=> {qvec}) AS sim FROM chunks AS c "
        "WHERE c.embedding_model = {model} ORDER BY {cast} <=> {qvec} LIMIT %(k)s) AS v"
    ).format(cast=cast, qvec=qvec, model=sql.Literal(model))


# --- years of experience ------------------------------------------------------------------
_STATED = (
    re.compile(
        r"(\d{1,2}(?:\.\d{1,2})?)\s*\+?\s*(?:years?|yrs?)(?:\s*(?:and\s*)?\d{1,2}\s*months?)?"
        r"\s*(?:of\s+)?(?:[A-Za-z/&-]+\s+){0,4}?(?:experience|exp\b|exprience)",
        re.I,
    ),
    re.compile(
        r"(?:experience|exprience)\s*(?:of|:|-|–)?\s*(?:about|around|over|nearly)?\s*"
        r"(\d{1,2}(?:\.\d{1,2})?)\s*\+?\s*(?:years?|yrs?)",
        re.I,
    ),
    re.compile(
        r"(?:경력|근무)\s*(\d{1,2})\s*년"
        r"|(\d{1,2})\s*년\s*(?:\d{1,2}\s*개월\s*)?(?:간\s*)?(?:의\s*)?(?:경력|근무|경험)"
        r"|(\d{1,2})\s*년\s*(?:동안|간|째)"
    ),
)
_MONTHS = re.compile(r"(?:experience|exprience)\s*-\s*(\d{1,3})\s*months", re.I)
_RANGE = re.compile(
    r"\b((?:19|20)\d\d)\s*(?:-|–|to|till|until|~)\s*((?:19|20)\d\d|present|current|till date|"
    r"date|now|현재)",
    re.I,
)
THIS_YEAR = 2026


def stated_years(text: str) -> tuple[float, tuple[int, int]] | None:
    """The most years of experience ``text`` states, and where."""
    best: tuple[float, tuple[int, int]] | None = None

    def consider(value: float, span: tuple[int, int]) -> None:
        nonlocal best
        if 0 < value <= 45 and (best is None or value > best[0]):
            best = (value, span)

    for pattern in _STATED:
        for m in pattern.finditer(text):
            number = next(g for g in m.groups() if g)
            consider(float(number), m.span())
    for m in _MONTHS.finditer(text):
        consider(round(int(m.group(1)) / 12, 1), m.span())
    spans = []
    for m in _RANGE.finditer(text):
        start = int(m.group(1))
        end_text = m.group(2).lower()
        end = int(end_text) if end_text.isdigit() else THIS_YEAR
        if start <= end <= THIS_YEAR and end - start <= 45:
            spans.append((start, end, m.span()))
    if spans:
        first = min(s for s, _, _ in spans)
        last = max(e for _, e, _ in spans)
        consider(float(last - first), spans[0][2])
    return best


# --- snippets -----------------------------------------------------------------------------
def snippet(text: str, needles: Iterable[str], width: int) -> str:
    """A window of ``text`` around the first of ``needles`` it contains (else its start),
    cut at word boundaries."""
    text = re.sub(r"\s+", " ", text).strip()
    lowered = text.lower()
    at = -1
    for needle in needles:
        if not needle:
            continue
        found = lowered.find(needle.lower())
        if found >= 0 and (at < 0 or found < at):
            at = found
    if at < 0 or len(text) <= width:
        start = 0
    else:
        start = max(0, at - width // 3)
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 20 else start
    piece = text[start : start + width]
    if start + width < len(text):
        cut = piece.rfind(" ")
        piece = (piece[:cut] if cut > width // 2 else piece) + "…"
    return ("…" if start > 0 else "") + piece


class TalentSearch:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        provider: EmbeddingProvider | None,
        config: SearchConfig | None = None,
    ) -> None:
        self.pool = pool
        self.provider = provider
        self.config = config or SearchConfig()

    async def run(self, criteria: Sequence[Criterion], limit: int) -> Outcome:
        cfg = self.config
        active = [c for c in criteria if c.enabled]
        vector_for = self.vector_criteria(active)
        timings: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            timings[name] = round((now - mark) * 1000, 1)
            mark = now

        # (The legs run one after the other: at once, on two connections, they were no
        # faster on a 2-core machine that also embeds, and their snapshots would differ.)
        vectors: list[list[float]] = []
        if vector_for and self.provider is not None:
            vectors = await self.provider.embed([c.search_text or "" for c in vector_for],
                                                task="query")  # fmt: skip
        lap("embed_ms")
        async with self.reader() as conn:
            rows = await (await conn.execute(_PEOPLE)).fetchall()
            people = [Person(r[0], r[1], r[2], r[3], r[4]) for r in rows]  # in slug order
            index = {p.bot_id: i for i, p in enumerate(people)}
            lap("people_ms")
            postings = await self._lexical(conn, active, [p.bot_id for p in people])
            lap("lexical_ms")
            nearest = await self._vector(conn, vector_for, vectors, index)
            lap("vector_ms")
            from shared.talent.ranking import rank

            ranked = rank(cfg, active, [p.slug for p in people], [p.chunks for p in people],
                          postings, nearest)  # fmt: skip
            lap("rank_ms")
            # Years are read from the leading candidates' own texts (the ranking before
            # years, three times what is shown), then everyone is ranked again; without
            # an experience criterion only those shown are read (evidence, headlines).
            texts: dict[int, tuple[str, str, str, str]] = {}
            years: dict[str, tuple[float, int, tuple[int, int]] | None] = {}
            final = ranked.order
            if any(c.type == "experience" for c in active):
                leading = [people[i].bot_id for i, _ in ranked.order[: max(limit * 3, 60)]]
                await self._texts(conn, texts, leading)
                years = _years_by_person(texts)
                stated = {index[b]: y[0] for b, y in years.items() if y is not None}
                final = ranked.rescore(stated)
            shown = final[:limit]
            await self._texts(conn, texts, [people[i].bot_id for i, _ in shown
                                            if people[i].bot_id not in years])  # fmt: skip
            lap("texts_ms")  # years and evidence
        by_person: dict[str, list[int]] = defaultdict(list)
        for cid, (_, _, bot, _) in texts.items():
            by_person[bot].append(cid)
        matches = []
        for i, score in shown:
            person = people[i]
            findings = tuple(
                self._finding(crit, i, ranked, years.get(person.bot_id), texts) for crit in active
            )
            ids = by_person[person.bot_id]
            headline = _headline(texts[ids[0]][0]) if ids else ""
            matches.append(Match(person, round(score, 6), headline, findings))
        return Outcome(
            matches,
            people_searched=len(people),
            matched=len(final),
            too_wide=frozenset(ranked.too_wide),
            timings=timings,
        )

    def vector_criteria(self, active: Sequence[Criterion]) -> list[Criterion]:
        """The criteria the vector leg searches, and the whole search as one more."""
        cfg = self.config
        searchable = [c for c in active if c.concepts or c.search_text]
        # The vector leg where words vary: roles (a job is written many ways) and keywords
        # (words the lexicon does not know). A skill, domain, language or place the
        # lexicon names is found by its names in both languages; their vectors added
        # only near misses (tuning P@10 0.608 -> 0.611 without them, here and in the
        # whole search's text; and each cost an HNSW scan).
        vector_for = [
            c
            for c in searchable
            if c.search_text and c.type in VECTOR_TYPES and self.provider is not None
        ]
        # The whole search in English (the roles and keywords it asks for, together): how
        # close a person's passages come to it is the ranking's tie-breaker among equals.
        whole = "; ".join(
            c.search_text for c in vector_for if c.kind != "exclude" and c.search_text
        )
        if whole and cfg.query_weight > 0 and self.provider is not None:
            vector_for.append(Criterion(QUERY, whole, "nice", "keyword", search_text=whole))
        return vector_for

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction that sees what a talent search may (migration 0011)."""
        async with self.pool.connection() as conn, conn.transaction():
            # Indexes, always (the postings' b-tree, HNSW on vectors): the planner
            # underestimates what row-level security lets through, and at 50,000 chunks
            # it read every chunk and sorted all of them by distance (15 s) instead.
            settings = {
                "hnsw.iterative_scan": "relaxed_order",
                "hnsw.ef_search": str(self.config.ef_search),
                "enable_seqscan": "off",
                # 100,000 postings joined to their people and grouped by term, in memory
                # and by hashing (the planner's merge join sorted them twice, on disk)
                "work_mem": "32MB",
                "enable_mergejoin": "off",
            }
            await scope(conn, talent=True, settings=settings)
            await conn.execute("SET TRANSACTION READ ONLY")
            yield conn

    def _band(self) -> tuple[float, float]:
        if self.provider is None:
            return DEFAULT_BAND
        return SIMILARITY_BANDS.get(self.provider.name, DEFAULT_BAND)

    async def _texts(
        self, conn: AsyncConnection, into: dict[int, tuple[str, str, str, str]], bots: list[str]
    ) -> None:
        """The chunks (text, document title) of ``bots``, in reading order."""
        if not bots:
            return
        cur = await conn.execute(_PERSON_TEXTS, {"bots": bots})
        for cid, text, title, bot, doc in await cur.fetchall():
            into[cid] = (text, title, bot, doc)

    async def _lexical(
        self, conn: AsyncConnection, criteria: Sequence[Criterion], people: list[str]
    ) -> dict[str, Hits]:
        """term -> its postings among ``people`` (person = position in the list)."""
        terms = sorted({t for c in criteria for k in c.concepts for p in k.phrases for t in p})
        if not terms or not people:
            return {}
        # Binary: 100,000 postings arrive as a few arrays, decoded in C.
        async with conn.cursor(binary=True) as cur:
            await cur.execute(_LEXICAL, {"terms": terms})
            rows = await cur.fetchall()
        from shared.talent.ranking import postings

        return postings(people, rows)

    async def _vector(
        self,
        conn: AsyncConnection,
        criteria: Sequence[Criterion],
        vectors: list[list[float]],
        index: dict[str, int],
    ) -> dict[str, Nearest]:
        """criterion id -> its nearest chunks among the people of ``index``."""
        if not vectors or self.provider is None:
            return {}
        cur = await conn.execute(
            _vector_query(self.provider.name, self.provider.dimensions),
            {"vecs": [vector_literal(v) for v in vectors], "k": self.config.vector_k},
        )
        lo, hi = self._band()
        found: dict[int, tuple[list[int], list[int], list[float]]] = {}
        for i, cid, bot, sim in await cur.fetchall():
            person = index.get(bot)
            if person is None:
                continue
            chunks, people, scaled = found.setdefault(int(i) - 1, ([], [], []))
            chunks.append(cid)
            people.append(person)
            scaled.append(min(1.0, max(0.0, (float(sim) - lo) / (hi - lo))))
        from shared.talent.ranking import Nearest

        return {criteria[i].id: Nearest.of(c, p, s) for i, (c, p, s) in found.items()}

    def _finding(
        self,
        crit: Criterion,
        person: int,
        ranked: Ranking,
        years: tuple[float, int, tuple[int, int]] | None,
        texts: dict[int, tuple[str, str, str, str]],
    ) -> Finding:
        cfg = self.config
        if crit.type == "experience":
            if years is None:
                return Finding(crit.id, "missing", 0.0)
            value, cid, span = years
            strength = years_strength(value, crit.min_years or 0)
            text, title, _, doc = texts[cid]
            piece = snippet(
                text[max(0, span[0] - 60) :], [text[span[0] : span[1]]], cfg.snippet_chars
            )
            return Finding(
                crit.id, _verdict(cfg, strength), strength, (Evidence(doc, title, piece),)
            )
        strength = ranked.strength_of(crit.id, person)
        verdict = ranked.verdict_of(crit.id, person)
        evidence = []
        for cid in ranked.best_chunks(crit.id, person, cfg.evidence_per_criterion):
            if cid not in texts:
                continue
            text, title, _, doc = texts[cid]
            needles = [crit.text, *(k.label for k in crit.concepts)]
            evidence.append(Evidence(doc, title, snippet(text, needles, cfg.snippet_chars)))
        if crit.kind == "exclude":
            verdict = "met" if verdict == "met" else "missing"
        return Finding(
            crit.id, verdict, round(strength, 4), tuple(evidence if verdict != "missing" else ())
        )


def _verdict(cfg: SearchConfig, strength: float) -> Verdict:
    if strength >= cfg.met:
        return "met"
    if strength >= cfg.partial:
        return "partial"
    return "missing"


def years_strength(value: float, wanted: float) -> float:
    """How well stated years meet the years asked for: in full, nearly (70%), barely."""
    if wanted <= 0 or value >= wanted:
        return 1.0
    if value >= 0.7 * wanted:
        return 0.3
    return 0.05


def _years_by_person(
    texts: dict[int, tuple[str, str, str, str]],
) -> dict[str, tuple[float, int, tuple[int, int]] | None]:
    """person -> (the most years their chunks state, in which chunk, where), or None."""
    best: dict[str, tuple[float, int, tuple[int, int]] | None] = {}
    for cid in sorted(texts):
        text, _, bot, _ = texts[cid]
        found = stated_years(text)
        known = best.get(bot)
        if found and (known is None or found[0] > known[0]):
            best[bot] = (found[0], cid, found[1])
        else:
            best.setdefault(bot, None)
    return best


def _headline(text: str) -> str:
    line = re.sub(r"\s+", " ", text).strip()
    return line[:117].rstrip() + "…" if len(line) > 120 else line
