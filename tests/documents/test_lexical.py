"""Lexical terms for BM25: Korean morphemes, stemmed English, mixed tokens whole and in parts."""

from __future__ import annotations

import pytest

from shared.documents import query_terms, terms


@pytest.mark.parametrize(
    ("token", "whole", "parts"),
    [
        ("MicroK8s", "microk8s", {"micro", "k8s"}),
        ("R2DBC", "r2dbc", {"dbc"}),
        ("gpt-4o", "gpt-4o", {"gpt", "4o"}),
        ("C++", "c++", {"c"}),
        ("C#", "c#", {"c"}),
        ("Node.js", "node.js", {"node", "js"}),
        ("ASP.NET", "asp.net", {"asp", "net"}),
        ("python3", "python3", {"python"}),
        ("HTTPServer2", "httpserver2", {"http", "server"}),
        ("3년차", "3년차", {"3", "년차"}),
        ("R&D", "r&d", {"r", "d"}),
        ("snake_case", "snake_case", {"snake", "case"}),
    ],
)
def test_mixed_tokens_are_terms_whole_and_by_parts(token: str, whole: str, parts: set[str]) -> None:
    found = terms(f"I used {token} daily.")
    assert whole in found
    assert parts <= set(found), found


def test_a_particle_glued_to_a_token_is_not_part_of_it() -> None:
    found = terms("Kafka를 썼고 3년차를 맞았으며 gpt-4o로 바꿨고 Node.js에서 MicroK8s까지")
    assert {"kafka", "3년차", "gpt-4o", "node.js", "microk8s"} <= set(found)
    assert not [t for t in found if t.endswith(("를", "로", "에서", "까지"))]
    assert "kafka를" not in found
    assert "3년차를" not in found


def test_korean_content_morphemes_and_no_particles_or_endings() -> None:
    found = terms("이 사람은 어떤 메시지 큐를 왜 골랐나요?")
    assert {"사람", "메시지", "큐", "고르"} <= set(found)
    for dropped in ("은", "를", "나요", "이", "왜", "어떤"):
        assert dropped not in found


def test_korean_verbs_match_across_inflections() -> None:
    doc = set(terms("쿠버네티스 클러스터를 직접 운영했습니다."))
    query = set(query_terms("쿠버네티스 운영 경험이 있나요?"))
    assert {"쿠버네티스", "운영"} <= doc & query
    assert "고르" in set(terms("RabbitMQ를 골랐다")) & set(terms("무엇을 고를까"))


def test_english_is_lowercased_stemmed_and_stopwords_go() -> None:
    found = terms("Has she run Kubernetes in production? She was running databases.")
    assert found == ["run", "kubernet", "product", "run", "databas"]


def test_same_function_for_documents_and_queries() -> None:
    assert query_terms is terms
    doc = set(terms("2021년부터 MicroK8s 기반 R2DBC 서비스를 운영하는 3년차 개발자입니다."))
    for question in ("MicroK8s 써봤어?", "microk8s", "R2DBC 경험?", "3년차", "k8s", "Micro"):
        assert set(query_terms(question)) & doc, question


def test_numbers_fullwidth_and_counts() -> None:
    found = terms("ＡＷＳ 2023 AWS aws")
    assert found == ["aw", "2023", "aw", "aw"]  # NFKC folds full-width; repeats are kept
    assert terms("") == []
    assert terms("!!! ... ---") == []


def test_order_follows_the_text() -> None:
    found = terms("Redis 캐시 MicroK8s 운영")
    assert found.index("redi") < found.index("캐시") < found.index("microk8s") < found.index("운영")
