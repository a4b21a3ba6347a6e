"""What kind of answer a question asks for, read from its wording (Korean or English):
a share (a percentage, a rate), a time (a year, a date) or a quantity (a count, a
duration, an amount). The extractive answerer counts "holds such a value" as one more
concept of the question, so that "How many complaints a month?" quotes the sentence
with the number rather than the one that merely names complaints.

Rules, not a list of questions: interrogative patterns of both languages, and the
shapes of the values in a sentence.
"""

from __future__ import annotations

import functools
import re

SHARE = "share"
TIME = "time"
QUANTITY = "quantity"

_I = re.IGNORECASE
# The first pattern that matches decides (a share is a quantity too, but a sentence
# with a percentage answers it better than one with any number).
_ASKS = (
    (SHARE, re.compile(
        r"\b(?:percentage|percent|ratio|proportion|share of|hit rate|success rate|"
        r"error rate|rate of)\b|\bwhat\s+(?:\w+\s+){0,3}rate\b"
        r"|비율|퍼센트|몇\s*(?:%|프로)|[가-힣]{2,}[율률](?:은|는|이|가|을|를|이나|도)?(?=\s|$|\?)",
        _I)),
    (TIME, re.compile(
        r"^\s*when\b|\b(?:since|until) when\b|\b(?:what|which) (?:year|month|date|day)\b"
        r"|\bin what year\b|언제|몇\s*년도|몇\s*월|며칠|어느\s*해|몇\s*년에",
        _I)),
    (QUANTITY, re.compile(
        r"\bhow (?:many|much|long|often|big|large|fast|slow|far|old|high|low)\b"
        r"|\b(?:number|amount|count) of\b|몇|얼마",
        _I)),
)  # fmt: skip

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_HOLDS = {
    SHARE: re.compile(r"\d\s*(?:%|퍼센트|percent\b|프로\b)|\d\s*분의\s*\d|\d+분의", _I),
    TIME: re.compile(
        rf"\b(?:19|20)\d\d\b|(?:19|20)\d\d\s*년|\d{{1,2}}\s*월|\d{{4}}[./-]\d{{1,2}}|\b(?:{_MONTHS})\b",
        _I,
    ),
    QUANTITY: re.compile(r"\d"),
}


@functools.lru_cache(maxsize=4096)
def asked(question: str) -> str | None:
    """The kind of value ``question`` asks for, or None (a "what"/"why"/yes-no one)."""
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return None


def holds(kind: str, sentence: str) -> bool:
    """Whether ``sentence`` holds a value of that kind."""
    return bool(_HOLDS[kind].search(sentence))
