"""The extractive answerer quotes the sentences that answer: never code, the value a
question asks for, whole words; a source's snippet carries on into what follows."""

from __future__ import annotations

import pytest

from shared.chat import answertype
from shared.chat.extractive import candidates, select
from shared.chat.generation import GenerationRequest, Passage
from shared.chat.retrieval import question_terms
from shared.chat.service import SNIPPET_CHARS, snippet
from shared.documents.sentences import language


def request(question: str, *texts: str) -> GenerationRequest:
    terms, concepts = question_terms(question)
    passages = [
        Passage(n, f"doc-{n}", "제목", "본문", text) for n, text in enumerate(texts, start=1)
    ]
    return GenerationRequest(
        question=question, standalone=question, language=language(question), bot_name="bot",
        persona="", passages=passages, terms=terms, concepts=concepts,
        weights=[1.0] * (max(concepts) + 1 if concepts else 0),
    )  # fmt: skip


def quoted(req: GenerationRequest, limit: int = 1) -> list[str]:
    return [c.text for c in select(req, candidates(req.passages), limit, by_score=True)]


def test_fenced_code_is_never_quoted_even_when_it_holds_the_question_words() -> None:
    req = request(
        "How do they backfill the settlement_daily DAG?",
        "```\n# backfill the settlement_daily DAG\nairflow dags backfill settlement_daily\n```\n"
        "A failed settlement day is reprocessed with one backfill command.",
    )
    assert quoted(req, limit=3) == [
        "A failed settlement day is reprocessed with one backfill command."
    ]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many complaints per month did merchants send?", answertype.QUANTITY),
        ("What cache hit rate did they get?", answertype.SHARE),
        ("What percentage of merchants were affected?", answertype.SHARE),
        ("When did she join the company?", answertype.TIME),
        ("캐시 히트율은 얼마였나요?", answertype.SHARE),
        ("비율이 어떻게 되나요?", answertype.SHARE),
        ("언제 합류했나요?", answertype.TIME),
        ("몇 명이 참여했나요?", answertype.QUANTITY),
        ("비용은 얼마였나요?", answertype.QUANTITY),
        ("섀도 런에서 어떤 문제가 발견됐나요?", None),
        ("Which company does she work for?", None),
        ("법률 자문을 받았나요?", None),  # 법률 is a word, not a rate
    ],
)
def test_the_kind_of_value_a_question_asks_for(question: str, kind: str | None) -> None:
    assert answertype.asked(question) == kind


def test_a_how_many_question_quotes_the_sentence_with_the_number() -> None:
    req = request(
        "How many complaints about the dashboard did merchants send?",
        "Merchants use the dashboard to check their sales and payouts. "
        "Complaints about the slow dashboard reached 40 a month.",
    )
    assert quoted(req) == ["Complaints about the slow dashboard reached 40 a month."]


def test_a_rate_question_prefers_a_percentage_to_any_number() -> None:
    req = request(
        "캐시 히트율은 얼마였나요?",
        "캐시 히트율을 높이려고 Redis 7.0 노드 2대를 썼습니다. "
        "일주일 운영해 보니 캐시 히트율은 평균 93%였습니다.",
    )
    assert quoted(req) == ["일주일 운영해 보니 캐시 히트율은 평균 93%였습니다."]


def test_a_when_question_prefers_the_sentence_with_a_date() -> None:
    req = request(
        "When did she join Budlepay?",
        "She joined the platform team at Budlepay, which runs 12 services. "
        "She joined Budlepay in April 2021.",
    )
    assert quoted(req) == ["She joined Budlepay in April 2021."]


def test_a_number_alone_does_not_make_a_sentence_worth_quoting() -> None:
    req = request(
        "How many people were on the migration team?",
        "The migration team moved 42 cron jobs to Airflow. The office has 3 floors and 120 desks.",
    )
    assert "The office has 3 floors and 120 desks." not in quoted(req, limit=3)


def test_a_one_syllable_korean_word_matches_only_at_the_start_of_a_word() -> None:
    # 일 (work) is not the 일 of 10일 (the 10th); 전 (before) is the 전 of 전에는.
    req = request(
        "그 전에는 어떤 일을 했나요?",
        "2023년 10월 10일에 킥오프해서 14주가 걸렸습니다. "
        "그 전에는 이커머스 회사에서 4년 동안 일을 했습니다.",
    )
    assert quoted(req) == ["그 전에는 이커머스 회사에서 4년 동안 일을 했습니다."]


def test_a_snippet_continues_into_the_next_sentence_as_far_as_it_fits() -> None:
    long_line = "Data Science Associate - Ernst & Young LLP " + "Skill Details Python " * 30
    req = request("What is the candidate's role?", f"Data Science role\n{long_line}")
    text = snippet(req, req.passages[0])
    assert text.startswith("Data Science role Data Science Associate - Ernst & Young LLP")
    assert text.endswith("…")
    assert len(text) <= SNIPPET_CHARS
    assert "  " not in text
