"""Query understanding without a model: an HR sentence (Korean or English) becomes typed
criteria, each ``must``, ``nice`` (to have) or ``exclude``.

    "Java backend developer with Spring Boot, 3+ years; AWS is a plus, no Android"
    -> role "Java backend developer" (must), skill "Spring Boot" (must),
       experience "3+ years" (must, 3 years), skill "AWS" (nice), skill "Android" (exclude)

How:

- clauses: punctuation, and Korean connective endings (``-고``, ``-며``, ``-면``: Kiwi's EC);
- entities: the longest forms of the lexicon (shared/talent/lexicon.py) at each token;
  a role preceded by skills or domains in its clause is one role ("Java developer");
- years: "3+ years", "at least 5 yrs", "3년 이상", "5년차", "경력 3년", "18 months";
- kinds: cue words. A prefix cue ("no", "without", "preferably") governs what follows it in
  its clause; a postfix cue ("is a plus", "preferred", Korean 우대, 제외, 필수) what comes
  before it in its clause (or, alone in its clause, the clause before). Default: must;
- what is left, minus the words of how HR asks ("looking for", "경험", "지원자"), becomes
  keyword criteria, searched by their own terms, their glossary translations and the
  phonetic keys of their loanwords (as Answering searches a question).

Each criterion carries what the search needs: its concepts (alternative phrases of index
terms: a person matches a concept when one phrase's terms are all in one chunk), and an
English text for the vector leg. :func:`criterion_from_text` rebuilds a criterion from a
text the user edited, with the same machinery.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Literal

from shared.documents.lexical import ENGLISH_STOPWORDS, terms
from shared.documents.sentences import has_hangul
from shared.talent import lexicon
from shared.talent.lexicon import Entry

Kind = Literal["must", "nice", "exclude"]
CriterionType = Literal["role", "skill", "experience", "domain", "language", "location", "keyword"]
KINDS: tuple[Kind, ...] = ("must", "nice", "exclude")
TYPES: tuple[CriterionType, ...] = (
    "role",
    "skill",
    "experience",
    "domain",
    "language",
    "location",
    "keyword",
)
MAX_CRITERIA = 12

Phrase = tuple[str, ...]  # index terms that must all be in one chunk


@dataclass(frozen=True)
class Concept:
    """One thing a criterion asks for, in every way it may be written."""

    label: str
    phrases: tuple[Phrase, ...]


@dataclass(frozen=True)
class Criterion:
    id: str
    text: str  # as the user wrote it (their language)
    kind: Kind
    type: CriterionType
    enabled: bool = True
    concepts: tuple[Concept, ...] = ()
    search_text: str | None = None  # English, for the vector leg (None: lexical only)
    min_years: float | None = None  # experience criteria

    def public(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "text": self.text,
            "kind": self.kind,
            "type": self.type,
            "enabled": self.enabled,
        }
        if self.min_years is not None:
            out["min_years"] = self.min_years
        return out


# --- cues ---------------------------------------------------------------------------------
# (pattern, kind, direction): "pre" governs what follows in the clause, "post" what precedes.
_EN_CUES: tuple[tuple[str, Kind, str], ...] = (
    (
        r"nice to have|good to have|would be (?:nice|great|a plus)|is an? (?:plus|bonus|advantage)"
        r"|an? (?:plus|bonus|advantage)|(?:is )?preferred|(?:is )?desirable|(?:is )?optional",
        "nice",
        "post",
    ),
    (
        r"preferably|ideally|bonus(?: points)?(?: for| if)?|plus|optionally|nice to have"
        r"|good to have",
        "nice",
        "pre",
    ),
    (r"(?:is |are )?(?:excluded|not needed|not wanted)", "exclude", "post"),
    (r"not|no|without|except|excluding|exclude|other than|non|never", "exclude", "pre"),
    (r"(?:is |are )?(?:required|mandatory|essential|a must)", "must", "post"),
    (r"must(?: have| know| be)?|required|requires|mandatory|essential|strong", "must", "pre"),
)
_KO_CUES: tuple[tuple[str, Kind, str], ...] = (
    (r"우대|선호|가산점|환영|있으면\s*좋|하면\s*좋|좋겠|좋음|좋습니다|플러스|괜찮", "nice", "post"),
    (r"제외|말고|빼고|아닌|아니|않은|없는|불가|금지", "exclude", "post"),
    (r"필수|필요|요구|해야|있어야", "must", "post"),
    (r"반드시|꼭", "must", "pre"),
)
_EN_CUE = [(re.compile(rf"\b(?:{p})\b", re.I), k, d) for p, k, d in _EN_CUES]
_KO_CUE = [(re.compile(p), k, d) for p, k, d in _KO_CUES]

# Years of experience.
_YEARS = re.compile(
    r"(?:(?P<pre>at least|minimum(?: of)?|min\.?|over|more than|above|upwards of)\s+)?"
    r"(?P<n>\d{1,2}(?:\.\d)?)\s*(?P<plus>\+)?\s*(?:-\s*\d{1,2}\s*)?"
    r"(?P<unit>years?|yrs?|months?|년|개월)"
    r"(?P<post>\s*(?:이상|차|넘게|넘는|이상의|\+|or more|and above|plus))?",
    re.I,
)
_KO_CAREER = re.compile(r"경력\s*(?P<n>\d{1,2})\s*년")
_SENIOR = re.compile(r"\bsenior\b|시니어", re.I)

# How HR asks, not what: never a keyword criterion of their own.
_EN_BOILERPLATE = frozenset(
    [
        "looking",
        "look",
        "seeking",
        "seek",
        "search",
        "searching",
        "find",
        "finding",
        "hire",
        "hiring",
        "want",
        "wanted",
        "need",
        "needed",
        "candidate",
        "candidates",
        "someone",
        "somebody",
        "person",
        "people",
        "profile",
        "profiles",
        "who",
        "experience",
        "experienced",
        "experiences",
        "expertise",
        "expert",
        "proficient",
        "proficiency",
        "knowledge",
        "knowledgeable",
        "skill",
        "skills",
        "skilled",
        "background",
        "hands",
        "hands-on",
        "handson",
        "strong",
        "solid",
        "good",
        "great",
        "deep",
        "working",
        "work",
        "worked",
        "professional",
        "professionals",
        "year",
        "years",
        "yrs",
        "months",
        "level",
        "least",
        "minimum",
        "over",
        "more",
        "above",
        "plus",
        "exposure",
        "familiar",
        "familiarity",
        "understanding",
        "ability",
        "able",
        "capable",
        "solid",
        "proven",
        "track",
        "record",
        "role",
        "position",
        "job",
        "opening",
        "please",
        "help",
        "us",
        "our",
        "team",
        "join",
        "also",
        "well",
        "ideally",
        "preferably",
        "etc",
        "using",
        "use",
        "used",
        "based",
        "having",
        "has",
        "have",
        "had",
        "can",
        "could",
        "would",
        "should",
        "project",
        "projects",
        "take",
        "taken",
        "took",
        "run",
        "runs",
        "ran",
        "running",
        "write",
        "writes",
        "wrote",
        "track",
        "tracks",
        "tracking",
        "do",
        "does",
        "done",
        "make",
        "makes",
        "made",
        "build",
        "builds",
        "built",
        "handle",
        "handles",
        "handled",
        "own",
        "owns",
        "owned",
        "drive",
        "drives",
        "deliver",
        "delivers",
        "delivered",
        "support",
        "supports",
        "get",
        "got",
        "gets",
        "know",
        "knows",
        "worked",
        "works",
        "shipped",
        "ship",
        "put",
        "puts",
        "end",
        "side",
        "type",
        "kind",
        "sort",
        "lot",
        "lots",
        "thing",
        "things",
        "new",
        "various",
        "hands-on",
        "understand",
        "understands",
        "manage",
        "manages",
        "managed",
        "lead",
        "leads",
        "led",
        "design",
        "designs",
        "designed",
        "develop",
        "develops",
        "developed",
        "create",
        "creates",
        "created",
        "maintain",
        "maintains",
        "maintained",
        "prepare",
        "prepares",
        "prepared",
        "plus",
        "bonus",
        "etc",
        "like",
        "such",
        "including",
        "include",
        "includes",
        "ideally",
        "preferably",
        "especially",
        "mostly",
        "mainly",
        "least",
        "also",
        "company",
        "companies",
        "environment",
        "field",
        "area",
        "areas",
        "team",
        "teams",
        "industry",
        "sector",
        "domain",
    ]
)
_KO_BOILERPLATE = frozenset(
    [
        "경험",
        "경력",
        "사람",
        "분",
        "지원자",
        "후보",
        "후보자",
        "인재",
        "찾",
        "구하",
        "채용",
        "뽑",
        "능력",
        "역량",
        "이상",
        "보유",
        "가능",
        "있",
        "없",
        "하",
        "되",
        "좋",
        "원하",
        "필요",
        "해보",
        "다루",
        "쓰",
        "사용",
        "활용",
        "정도",
        "관련",
        "분야",
        "쪽",
        "업무",
        "실무",
        "이해",
        "지식",
        "기술",
        "스킬",
        "년",
        "년차",
        "개월",
        "중",
        "등",
        "및",
        "또는",
        "혹은",
        "그리고",
        "이",
        "그",
        "저",
        "것",
        "수",
        "때",
        "위",
        "전문",
        "전문가",
        "능숙",
        "숙련",
        "출신",
        "하시",
        "계시",
        "주",
        "보",
        "알",
        "잘",
        "많",
        "팀",
        "이끌",
        "이끌어",
        "해본",
        "해",
        "본",
        "보신",
        "경력자",
        "운영",
        "분들",
        "하신",
        "있는",
        "알면",
        "더",
        "정도",
        "위주",
        "주로",
        "함께",
        "통해",
        "대한",
        "관한",
        "대해",
        "경험자",
        "경력자",
        "운영",
        "신입",
        "분들",
        "해",
        "본",
        "보신",
        "맡",
        "담당",
        "가지",
        "갖",
        "갖추",
        "수준",
        "이력",
        "이력서",
        "포지션",
        "자리",
    ]
)
_CLAUSE_BREAK = re.compile(r"[,;!?\n]|\.(?:\s|$)|\bbut\b|\bwhile\b", re.I)
_TRAILING_TAGS = ("J", "E", "VCP", "VCN", "XS")
_TAIL_WORDS = ("자", "직", "직군", "분야", "계열", "경험", "경력", "쪽", "업무", "팀", "부서", "쪽")


@dataclass
class _Item:
    """Something found in the query: an entity, years, or leftover words."""

    start: int  # token index
    end: int  # token index (exclusive)
    clause: int
    type: CriterionType
    entries: list[Entry] = field(default_factory=list)
    years: float | None = None
    kind: Kind = "must"
    keywords: list[str] = field(default_factory=list)  # keyword texts merged into a role
    alternatives: bool = False  # "banking or insurance": any one of its entries will do


@dataclass(frozen=True)
class _Token:
    text: str
    key: str
    start: int
    end: int


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _morphemes(text: str) -> list[tuple[str, str, int, int]]:
    if not has_hangul(text):
        return []
    from shared.documents.korean import kiwi

    return [(t.form, t.tag, t.start, t.start + t.len) for t in kiwi().tokenize(text)]


def _is_tail(text: str, begin: int, end: int, morphemes: list[tuple[str, str, int, int]]) -> bool:
    """Is ``text[begin:end]`` (the rest of a Korean token) only particles and endings?"""
    rest = text[begin:end]
    if not rest:
        return True
    if rest in _TAIL_WORDS or any(
        rest.startswith(w) and _is_tail(text, begin + len(w), end, morphemes) for w in _TAIL_WORDS
    ):
        return True
    inside = [m for m in morphemes if m[2] < end and m[3] > begin]
    return bool(inside) and all(m[1].startswith(_TRAILING_TAGS) or (m[2] < begin) for m in inside)


def _clauses(
    text: str, toks: list[_Token], morphemes: list[tuple[str, str, int, int]]
) -> list[int]:
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(text)]
    connective = [m[2] for m in morphemes if m[1] == "EC"]
    out = []
    for tok in toks:
        clause = sum(1 for b in breaks if b < tok.start)
        clause += sum(1 for c in connective if c < tok.start)
        out.append(clause)
    return out


def _match_entities(
    text: str, toks: list[_Token], morphemes: list[tuple[str, str, int, int]]
) -> list[tuple[int, int, Entry]]:
    """(first token, end token, entry): the longest lexicon form at each position."""
    index = lexicon.index()
    all_entries = lexicon.entries()
    found: list[tuple[int, int, Entry]] = []
    i = 0
    while i < len(toks):
        best: tuple[int, Entry] | None = None
        for keys, number in index.get(toks[i].key, ()):
            n = len(keys)
            if i + n > len(toks) or (best is not None and n < best[0]):
                continue
            if all(toks[i + j].key == keys[j] for j in range(n - 1)) and (
                toks[i + n - 1].key == keys[-1]
                or (
                    has_hangul(keys[-1])
                    and toks[i + n - 1].key.startswith(keys[-1])
                    and _is_tail(
                        text,
                        toks[i + n - 1].start + len(keys[-1]),
                        toks[i + n - 1].end,
                        morphemes,
                    )
                )
            ):
                entry = all_entries[number]
                surface = " ".join(t.text.lower() for t in toks[i : i + n])
                exact = any(f.lower() == surface for f in entry.forms)
                if best is None or exact:
                    best = (n, entry)
                if exact:
                    break
        if best is None and has_hangul(toks[i].key):
            for first in lexicon.hangul_firsts():
                if first != toks[i].key and toks[i].key.startswith(first):
                    single = [e for keys, e in index[first] if len(keys) == 1]
                    if single and _is_tail(
                        text, toks[i].start + len(first), toks[i].end, morphemes
                    ):
                        best = (1, all_entries[single[0]])
                        break
        if best is None:
            i += 1
            continue
        found.append((i, i + best[0], best[1]))
        i += best[0]
    return found


def _years(text: str, toks: list[_Token]) -> list[tuple[int, int, float]]:
    out = []
    for m in _YEARS.finditer(text):
        value = float(m.group("n"))
        if m.group("unit").lower().startswith(("month", "개월")):
            value = round(value / 12, 1)
        covered = [i for i, t in enumerate(toks) if t.start < m.end() and t.end > m.start()]
        if covered and value > 0:
            out.append((covered[0], covered[-1] + 1, value))
    for m in _KO_CAREER.finditer(text):
        covered = [i for i, t in enumerate(toks) if t.start < m.end() and t.end > m.start()]
        if covered and not any(a <= covered[0] < b for a, b, _ in out):
            out.append((covered[0], covered[-1] + 1, float(m.group("n"))))
    if not out:
        for m in _SENIOR.finditer(text):
            covered = [i for i, t in enumerate(toks) if t.start < m.end() and t.end > m.start()]
            if covered:
                out.append((covered[0], covered[-1] + 1, 5.0))
                break
    return sorted(out)


def _cues(text: str, toks: list[_Token]) -> list[tuple[int, int, Kind, str]]:
    """(first token, end token, kind, direction) of each cue."""
    found: list[tuple[int, int, Kind, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern, kind, direction in (*_EN_CUE, *_KO_CUE):
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            covered = [i for i, t in enumerate(toks) if t.start < m.end() and t.end > m.start()]
            if not covered:
                continue
            taken.append((m.start(), m.end()))
            found.append((covered[0], covered[-1] + 1, kind, direction))
    return sorted(found)


def _apply_kinds(
    items: list[_Item], cues: list[tuple[int, int, Kind, str]], clauses: list[int]
) -> None:
    rank = {"must": 0, "nice": 1, "exclude": 2}
    for start, end, kind, direction in cues:
        clause = clauses[start]
        if direction == "pre":
            targets = [it for it in items if it.clause == clause and it.start >= end]
        else:
            targets = [it for it in items if it.clause == clause and it.end <= start]
            # only back to the previous cue of the clause
            earlier = [e for s, e, _, _ in cues if clauses[s] == clause and e <= start]
            if earlier:
                targets = [it for it in targets if it.start >= max(earlier)]
            if targets and targets[-1].type != "role":
                # "데이터 과학자 중 머신러닝 우대": the preference is for machine learning
                targets = [it for it in targets if it.type != "role"]
            if not targets and clause > 0:
                targets = [it for it in items if it.clause == clause - 1]
        for it in targets:
            if kind == "must" and it.kind != "must":
                continue  # an explicit must does not undo an earlier nice/exclude
            if rank[kind] >= rank[it.kind] or kind == "must":
                it.kind = kind


def _leftovers(
    text: str,
    toks: list[_Token],
    covered: set[int],
    clauses: list[int],
    morphemes: list[tuple[str, str, int, int]],
) -> list[_Item]:
    items: list[_Item] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            items.append(_Item(run[0], run[-1] + 1, clauses[run[0]], "keyword"))
            run.clear()

    for i, tok in enumerate(toks):
        if i in covered:
            flush()
            continue
        word = tok.text
        if has_hangul(word):
            content = [
                m[0]
                for m in morphemes
                if m[2] >= tok.start
                and m[3] <= tok.end
                and m[1] in ("NNG", "NNP", "SL")
                and m[0] not in _KO_BOILERPLATE
            ]
            useful = bool(content)
        else:
            low = word.lower()
            useful = (
                low not in ENGLISH_STOPWORDS
                and key_stem(low) not in _EN_BOILERPLATE
                and low not in _EN_BOILERPLATE
                and not low.isdigit()
                and len(low) > 1
            )
        if not useful or (run and clauses[run[-1]] != clauses[i]) or len(run) >= 3:
            flush()
        if useful:
            run.append(i)
    flush()
    return items


def key_stem(word: str) -> str:
    from shared.documents.lexical import latin_terms

    stems = latin_terms(word)
    return stems[0] if stems else word


# "채용합니다", "모집 중": that the company hires, not recruiting as a skill
_HIRING = re.compile(r"(?:채용|모집|구인)(?:합니다|해요|하고|하려|하는|중|예정|공고)")


def _tokens(text: str) -> list[_Token]:
    return [
        _Token(m.group(), lexicon.key(m.group()), m.start(), m.end()) for m in lexicon.tokens(text)
    ]


def _items(text: str) -> tuple[list[_Item], list[_Token], list[int]]:
    toks = _tokens(text)
    morphemes = _morphemes(text)
    clauses = _clauses(text, toks, morphemes)
    cues = _cues(text, toks)
    cue_tokens = {i for s, e, _, _ in cues for i in range(s, e)}
    items: list[_Item] = []
    taken: set[int] = set()
    for s, e, years in _years(text, toks):
        items.append(_Item(s, e, clauses[s], "experience", years=years))
        taken.update(range(s, e))
    for s, e, entry in _match_entities(text, toks, morphemes):
        if taken.intersection(range(s, e)):
            continue
        if e - s == 1 and _HIRING.fullmatch(toks[s].text):
            taken.add(s)
            continue
        items.append(_Item(s, e, clauses[s], entry.type, entries=[entry]))  # type: ignore[arg-type]
        taken.update(range(s, e))
    items += _leftovers(text, toks, taken | cue_tokens, clauses, morphemes)
    items.sort(key=lambda it: it.start)
    _apply_kinds(items, cues, clauses)
    return _merge_alternatives(_merge_roles(items, text, toks), text, toks), toks, clauses


# What joins alternatives: "banking or insurance", "AWS/GCP", "자바 또는 코틀린",
# "자바나 코틀린", "AWS 혹은 GCP" (the Korean particle may be the first word's tail).
_OR = re.compile(r"\s*(?:or|/|또는|혹은|(?:이)?나|(?:이)?거나)\s*", re.I)
_ALTERNATIVE_TYPES = ("skill", "domain", "language", "location", "keyword")


def _gap(text: str, toks: list[_Token], before: _Item, after: _Item) -> str:
    """The text between two items, with the first one's Korean tail (its particle)."""
    last = toks[before.end - 1]
    stop = last.end
    if has_hangul(last.text):
        first = next((f for f in lexicon.hangul_firsts() if last.text.startswith(f)), None)
        if first is not None:
            stop = last.start + len(first)
    return text[stop : toks[after.start].start]


def _merge_alternatives(items: list[_Item], text: str, toks: list[_Token]) -> list[_Item]:
    """Items of one clause and kind joined by "or" (또는, 혹은, -나) are one criterion
    that any of them meets."""
    out: list[_Item] = []
    for it in items:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.clause == it.clause
            and prev.kind == it.kind
            and prev.type in _ALTERNATIVE_TYPES
            and it.type in _ALTERNATIVE_TYPES
            and _OR.fullmatch(_gap(text, toks, prev, it))
        ):
            kinds = [t for t in (prev.type, it.type) if t != "keyword"]
            keywords = [*prev.keywords, *it.keywords]
            keywords += [_span(text, toks, x.start, x.end) for x in (prev, it)
                         if x.type == "keyword" and not x.alternatives]  # fmt: skip
            out[-1] = replace(prev, end=it.end, type=kinds[0] if kinds else "keyword",
                              entries=prev.entries + it.entries, keywords=keywords,
                              alternatives=True)  # fmt: skip
            continue
        out.append(it)
    return out


def _merge_roles(items: list[_Item], text: str, toks: list[_Token]) -> list[_Item]:
    """A role with the skills or domains right before it in its clause is one role."""
    out: list[_Item] = []
    for it in items:
        if it.type == "role":
            lead: list[_Item] = []
            while (
                out
                and out[-1].type in ("skill", "domain", "keyword")
                and out[-1].clause == it.clause
                and out[-1].kind == it.kind
                and out[-1].end == (lead[0].start if lead else it.start)
            ):
                lead.insert(0, out.pop())
            if lead:
                it = replace(
                    it,
                    start=lead[0].start,
                    entries=[e for x in lead for e in x.entries] + it.entries,
                    keywords=[
                        _span(text, toks, x.start, x.end) for x in lead if x.type == "keyword"
                    ],
                )
        out.append(it)
    return out


def _phrases(form: str) -> tuple[Phrase, ...]:
    found = tuple(terms(form))
    return (found,) if found else ()


def _entry_concept(entry: Entry) -> Concept:
    phrases: list[Phrase] = []
    for form in entry.forms:
        for phrase in _phrases(form):
            if phrase not in phrases:
                phrases.append(phrase)
    return Concept(entry.canonical, tuple(phrases))


def _keyword_concepts(text: str) -> tuple[tuple[Concept, ...], str | None]:
    """A keyword's concepts (each of its words, with translations and loanword keys) and
    its English form when it has one."""
    from shared.chat.glossary import translations
    from shared.chat.retrieval import question_terms

    words, concept_of = question_terms(text)
    by_concept: dict[int, list[Phrase]] = {}
    for term, concept in zip(words, concept_of, strict=True):
        if term in _KO_BOILERPLATE or term in _EN_BOILERPLATE:
            continue
        by_concept.setdefault(concept, []).append((term,))
    concepts = tuple(
        Concept(phrases[0][0], tuple(phrases)) for _, phrases in sorted(by_concept.items())
    )
    if not has_hangul(text):
        return concepts, text
    english = [w for source, target in translations(set(words)) for w in target if w.isascii()]
    return concepts, (" ".join(english) if english else None)


def _span(text: str, toks: list[_Token], start: int, end: int) -> str:
    last = toks[end - 1]
    stop = last.end
    if has_hangul(last.text):
        first = next((f for f in lexicon.hangul_firsts() if last.text.startswith(f)), None)
        if first is not None:
            stop = last.start + len(first)
    return text[toks[start].start : stop].strip(" ,.;")


def _criterion(id_: str, item: _Item, shown: str) -> Criterion | None:
    if item.type == "experience":
        years = item.years or 0.0
        return Criterion(id_, shown, item.kind, "experience", min_years=years,
                         search_text=f"{years:g} years of experience")  # fmt: skip
    if item.alternatives:
        return _alternatives(id_, item, shown)
    if item.type == "keyword":
        concepts, english = _keyword_concepts(shown)
        if not concepts:
            return None
        return Criterion(id_, shown, item.kind, "keyword", concepts=concepts, search_text=english)
    found = [_entry_concept(e) for e in item.entries]
    words = [e.canonical for e in item.entries]
    for keyword in item.keywords:
        more, en = _keyword_concepts(keyword)
        found[:0] = more
        if en:
            words.insert(0, en)
    return Criterion(id_, shown, item.kind, item.type, concepts=tuple(found),
                     search_text=" ".join(words))  # fmt: skip


def _alternatives(id_: str, item: _Item, shown: str) -> Criterion | None:
    """One concept of every way of writing any of the alternatives: a person who has
    one of them meets it, and it is as rare as the people who have any."""
    concepts = [_entry_concept(e) for e in item.entries]
    words = [e.canonical for e in item.entries]
    for keyword in item.keywords:
        more, en = _keyword_concepts(keyword)
        concepts += more
        if en:
            words.append(en)
    phrases = tuple(dict.fromkeys(p for k in concepts for p in k.phrases))
    if not phrases:
        return None
    label = " / ".join(k.label for k in concepts)
    return Criterion(id_, shown, item.kind, item.type, concepts=(Concept(label, phrases),),
                     search_text=" or ".join(words) or None)  # fmt: skip


def parse(query: str) -> list[Criterion]:
    """The criteria of an HR sentence, in the order they were written."""
    text = _normalise(query)
    items, toks, _ = _items(text)
    out: list[Criterion] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        shown = _span(text, toks, item.start, item.end)
        crit = _criterion(f"c{len(out) + 1}", item, shown)
        if crit is None or (crit.search_text or crit.text, crit.kind) in seen:
            continue
        seen.add((crit.search_text or crit.text, crit.kind))
        out.append(crit)
        if len(out) >= MAX_CRITERIA:
            break
    return out


def criterion_from_text(id_: str, text: str, kind: Kind, *, enabled: bool = True) -> Criterion:
    """A criterion the user wrote or edited: everything its text names, as one."""
    shown = _normalise(text)
    items, toks, _ = _items(shown)
    years = next((it.years for it in items if it.type == "experience"), None)
    entries = [e for it in items if it.type not in ("experience", "keyword") for e in it.entries]
    if not entries and years is not None:
        return Criterion(id_, shown, kind, "experience", enabled=enabled, min_years=years,
                         search_text=f"{years:g} years of experience")  # fmt: skip
    concepts = [_entry_concept(e) for e in entries]
    english = [e.canonical for e in entries]
    for it in items:
        if it.type == "keyword":
            more, en = _keyword_concepts(_span(shown, toks, it.start, it.end))
            concepts.extend(more)
            if en:
                english.append(en)
    types = [it.type for it in items if it.type != "experience"]
    type_: CriterionType = "role" if "role" in types else types[0] if types else "keyword"
    return Criterion(
        id_,
        shown,
        kind,
        type_,
        enabled=enabled,
        concepts=tuple(concepts),
        search_text=" ".join(english) or None,
        min_years=years,
    )
