"""The talent-search API's request and response models. The rules are the functions below
(also the parser's limits); the models apply them and say them in the OpenAPI document."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from shared.api.contract import Body, Query, QueryInt, Reply, rule
from shared.errors import BadRequest
from shared.talent.criteria import MAX_CRITERIA

MAX_QUERY_CHARS = 500
MAX_CRITERION_CHARS = 200
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ID = re.compile(r"c[0-9]{1,2}")


def _text(value: str, what: str, limit: int, code: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"the {what} is not valid Unicode text", code="bad_text") from None
    text = " ".join(_CONTROL.sub(" ", value).split())
    if not text:
        raise BadRequest(f"the {what} is empty", code=f"empty_{code}")
    if len(text) > limit:
        raise BadRequest(f"the {what} is over {limit} characters", code=f"{code}_too_long")
    return text


def query_text(value: str) -> str:
    """The HR sentence: valid Unicode, control characters as spaces, one space between
    words, not empty, at most MAX_QUERY_CHARS."""
    return _text(value, "query", MAX_QUERY_CHARS, "query")


def criterion_text(value: str) -> str:
    return _text(value, "criterion", MAX_CRITERION_CHARS, "criterion")


def criterion_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise BadRequest("a criterion id is c1 .. c99", code="bad_criterion_id")
    return value


Kind = Literal["must", "nice", "exclude"]
CriterionType = Literal["role", "skill", "experience", "domain", "language", "location", "keyword"]
Verdict = Literal["met", "partial", "missing"]
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]


class CriterionEdit(Body):
    """A criterion as the user keeps, edits, toggles or adds it."""

    codes: ClassVar = {"text": "bad_criterion", "kind": "bad_kind", "enabled": "bad_enabled"}
    id: Annotated[str, Field(json_schema_extra={"pattern": "^c[0-9]{1,2}$"}),
                  rule(criterion_id)] | None = None  # fmt: skip
    text: Annotated[
        str,
        Field(json_schema_extra={"minLength": 1, "maxLength": MAX_CRITERION_CHARS}),
        rule(criterion_text),
    ]
    kind: Kind = "must"
    enabled: bool = True
    type: CriterionType | None = Field(None, description="Ignored: read again from the text")


class SearchBody(Body):
    codes: ClassVar = {
        "query": "bad_query",
        "limit": "bad_limit",
        "criteria": "bad_criteria",
        "criteria.*": "bad_criterion",
    }
    query: Annotated[
        str,
        Field(json_schema_extra={"minLength": 1, "maxLength": MAX_QUERY_CHARS}),
        rule(query_text),
    ]
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    criteria: Annotated[list[CriterionEdit], Field(max_length=MAX_CRITERIA)] | None = Field(
        None,
        description="Run with these criteria (edited, toggled) instead of reading the query",
    )


class SearchesQuery(Query):
    limit: Annotated[QueryInt, Field(ge=1, le=100)] = 20
    before: datetime | None = Field(None, description="Searches older than this (paging)")


class CriterionView(Reply):
    id: str
    text: str
    kind: Kind
    type: CriterionType
    enabled: bool
    min_years: float | None = Field(None, description="experience criteria: the years asked")
    too_wide: bool = Field(False, description="Met by most people: weighs half")


class EvidenceView(Reply):
    document_id: Uuid
    title: str
    snippet: str


class FindingView(Reply):
    id: str = Field(description="The criterion's id")
    verdict: Verdict
    evidence: list[EvidenceView]


class ResultView(Reply):
    bot: str = Field(description="The person's bot (slug)")
    name: str
    headline: str
    score: float
    ask_url: str = Field(
        description="The person's bot's chat page with the query pre-filled and "
        "`via=talent` (the questions asked from it are counted in the owner's insights)"
    )
    criteria: list[FindingView]


class SearchCounts(Reply):
    people_searched: int
    matched: int
    shown: int


class SearchQuotaView(Reply):
    limit: int
    remaining: int
    reset_at: datetime


class SearchView(Reply):
    id: Uuid = Field(description="The saved search")
    query: str
    criteria: list[CriterionView]
    results: list[ResultView]
    counts: SearchCounts
    quota: SearchQuotaView
    created_at: datetime


class SavedSearch(Reply):
    id: Uuid
    query: str
    criteria: list[CriterionView]
    limit: int
    counts: SearchCounts
    created_at: datetime


class SavedSearches(Reply):
    searches: list[SavedSearch]
