"""Loanwords across scripts: one phonetic key for 쿠버네티스 and "Kubernetes"."""

from __future__ import annotations

import pytest

from shared.chat.retrieval import question_terms
from shared.documents.lexical import index_terms, loanword_keys
from shared.documents.loanwords import hangul_key, latin_keys, looks_borrowed

# Written from how Korean transcribes English (not from any evaluation question).
PAIRS = [
    ("쿠버네티스", "kubernetes"), ("클라우드", "cloud"), ("파이프라인", "pipeline"),
    ("스타트업", "startup"), ("마이크로서비스", "microservices"), ("모니터링", "monitoring"),
    ("트랜잭션", "transaction"), ("데이터베이스", "database"), ("캐시", "cache"),
    ("서버", "server"), ("자바", "java"), ("도커", "docker"), ("카프카", "kafka"),
    ("레플리카", "replica"), ("대시보드", "dashboard"), ("컨테이너", "container"),
    ("서버리스", "serverless"), ("파이썬", "python"), ("젠킨스", "jenkins"),
    ("자바스크립트", "javascript"), ("스파크", "spark"), ("엔지니어", "engineer"),
    ("엑셀", "excel"), ("플랫폼", "platform"), ("버전", "version"), ("스프링", "spring"),
]  # fmt: skip


@pytest.mark.parametrize(("hangul", "latin"), PAIRS)
def test_a_loanword_and_its_english_word_share_a_key(hangul: str, latin: str) -> None:
    key = hangul_key(hangul)
    assert key is not None
    assert key in latin_keys(latin), (hangul, key, latin_keys(latin))


def test_keys_that_must_differ() -> None:
    # Two consonant classes alone are ambiguous (java, server: S-P): the vowel decides.
    assert hangul_key("자바") != hangul_key("서버")
    assert not set(latin_keys("java")) & set(latin_keys("server"))
    assert hangul_key("쿠버네티스") not in latin_keys("kafka")


@pytest.mark.parametrize("word", ["배포", "경험", "회사", "개발자", "운영", "기사", "정산"])
def test_sino_korean_words_get_no_key(word: str) -> None:
    assert not looks_borrowed(word)
    assert hangul_key(word) is None


def test_short_and_odd_words_get_no_key() -> None:
    assert latin_keys("go") == ()
    assert latin_keys("a" * 100) == ()
    assert hangul_key("큐") is None  # one syllable
    assert hangul_key("서버123") is None


def test_documents_store_keys_marked_by_script_and_questions_ask_for_the_other() -> None:
    doc = index_terms("마이크로서비스를 쿠버네티스 클러스터에 배포했습니다")
    assert "%h:KPNTS" in doc
    assert "쿠버네티스" in doc
    assert not any(t.startswith("%l:") for t in doc)
    english = index_terms("Ran Kubernetes in production")
    assert "%l:KPNTS" in english
    words, concepts = question_terms("Has she run Kubernetes in production?")
    assert "%h:KPNTS" in words  # looks for the Hangul spelling
    assert concepts[words.index("%h:KPNTS")] == concepts[words.index("kubernet")]
    assert "%l:KPNTS" not in words  # never its own script's key
    words, concepts = question_terms("쿠버네티스 운영 경험이 있나요?")
    assert concepts[words.index("%l:KPNTS")] == concepts[words.index("쿠버네티스")]


def test_particles_do_not_change_the_key() -> None:
    keys = {own for _, own, _ in loanword_keys("파이프라인을 스타트업에서 만들었다")}
    assert {"%h:PLN", "%h:STP"} <= keys
