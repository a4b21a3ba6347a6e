"""The offline query parser: sentences in Korean and English become typed criteria."""

from __future__ import annotations

import pytest

from shared.talent.criteria import Criterion, criterion_from_text, parse
from shared.talent.search import snippet, stated_years


def _by_text(criteria: list[Criterion]) -> dict[str, tuple[str, str]]:
    return {c.text: (c.kind, c.type) for c in criteria}


def test_an_english_sentence_becomes_roles_skills_years_and_kinds() -> None:
    found = parse("Java backend developer with Spring Boot, 3+ years; AWS is a plus, no Android")
    assert _by_text(found) == {
        "Java backend developer": ("must", "role"),
        "Spring Boot": ("must", "skill"),
        "3+ years": ("must", "experience"),
        "AWS": ("nice", "skill"),
        "Android": ("exclude", "keyword"),
    }
    years = next(c for c in found if c.type == "experience")
    assert years.min_years == 3
    assert [c.id for c in found] == ["c1", "c2", "c3", "c4", "c5"]


def test_a_korean_sentence_becomes_the_same_kinds_of_criteria() -> None:
    found = parse(
        "스프링 경험이 있는 자바 백엔드 개발자, 3년 이상, AWS 경험 우대, 안드로이드 개발자는 제외"
    )
    assert _by_text(found) == {
        "스프링": ("must", "skill"),
        "자바 백엔드 개발자": ("must", "role"),
        "3년 이상": ("must", "experience"),
        "AWS": ("nice", "skill"),
        "안드로이드 개발자": ("exclude", "role"),
    }
    role = next(c for c in found if c.text == "자바 백엔드 개발자")
    assert role.search_text == "java backend developer"  # English, for the vector leg


@pytest.mark.parametrize(
    ("query", "text", "kind"),
    [
        ("데이터 과학자 중 머신러닝 경험자 우대", "머신러닝", "nice"),
        ("데이터 과학자 중 머신러닝 경험자 우대", "데이터 과학자", "must"),
        ("자바 개발자이고 AWS 경험이 있으면 좋음", "AWS", "nice"),
        ("인사 담당자, 채용 경험 필수", "채용", "must"),
        ("Python developer, preferably with Django", "Django", "nice"),
        ("HR generalist without payroll", "payroll", "exclude"),
        ("Selenium is required, JMeter optional", "JMeter", "nice"),
        ("Selenium is required, JMeter optional", "Selenium", "must"),
    ],
)
def test_cue_words_set_the_kind_of_what_they_govern(query: str, text: str, kind: str) -> None:
    assert _by_text(parse(query))[text][0] == kind


@pytest.mark.parametrize(
    ("query", "years"),
    [
        ("at least 5 years", 5),
        ("7+ yrs", 7),
        ("18 months", 1.5),
        ("경력 3년", 3),
        ("5년차", 5),
        ("senior network engineer", 5),
    ],
)
def test_years_of_experience_are_read_in_both_languages(query: str, years: float) -> None:
    (found,) = [c for c in parse(query) if c.type == "experience"]
    assert found.min_years == years


def test_particles_and_word_forms_do_not_hide_a_term() -> None:
    assert _by_text(parse("자바를 쓰는 개발자는"))["자바"][1] == "skill"
    assert _by_text(parse("developers who know Kubernetes"))["Kubernetes"] == ("must", "skill")
    # the longest form wins: JavaScript is not Java
    assert parse("자바스크립트 개발자")[0].search_text == "javascript developer"
    assert parse("JavaScript developer")[0].search_text == "javascript developer"


def test_how_hr_asks_is_not_a_criterion() -> None:
    query = "We are looking for someone with strong experience in Kafka"
    texts = [c.text.lower() for c in parse(query)]
    assert texts == ["kafka"]
    assert [c.text for c in parse("카프카 경험이 있는 분을 찾습니다")] == ["카프카"]


def test_an_edited_criterion_is_read_again_from_its_text() -> None:
    edited = criterion_from_text("c9", "  Spring   Boot ", "nice")
    assert (edited.id, edited.text, edited.kind) == ("c9", "Spring Boot", "nice")
    assert edited.type == "skill"
    assert edited.concepts
    assert edited.search_text == "spring"
    years = criterion_from_text("c2", "4년 이상", "must")
    assert (years.type, years.min_years) == ("experience", 4)
    free = criterion_from_text("c3", "fraud investigation", "must", enabled=False)
    assert free.type == "keyword"
    assert not free.enabled
    assert free.concepts


def test_stated_years_are_found_in_a_resume() -> None:
    assert stated_years("Over 6 years of experience in Java")[0] == 6  # type: ignore[index]
    assert stated_years("Python- Exprience - 24 months")[0] == 2  # type: ignore[index]
    assert stated_years("Infosys 2012 - 2016, TCS 2016 to present")[0] == 14  # type: ignore[index]
    assert stated_years("경력 4년의 백엔드 개발자")[0] == 4  # type: ignore[index]
    assert stated_years("자바 개발자로 5년 동안 일했습니다")[0] == 5  # type: ignore[index]
    assert stated_years("Skills: Java, Python") is None


def test_a_snippet_is_the_window_around_the_evidence() -> None:
    text = "word " * 100 + "Hibernate and JPA for persistence " + "tail " * 100
    piece = snippet(text, ["hibernate"], 120)
    assert "Hibernate and JPA" in piece
    assert piece.startswith("…")
    assert piece.endswith("…")
    assert len(piece) <= 122
    assert snippet("short text", ["absent"], 120) == "short text"


@pytest.mark.parametrize(
    ("query", "text", "labels"),
    [
        (
            "Operations manager in banking or insurance",
            "banking or insurance",
            {"banking", "insurance"},
        ),
        ("Kotlin 또는 Java 경험", "Kotlin 또는 Java", {"kotlin", "java"}),
        ("AWS나 GCP 경험 우대", "AWS나 GCP", {"aws", "gcp"}),
    ],
)
def test_alternatives_joined_by_or_are_one_criterion_any_of_them_meets(
    query: str, text: str, labels: set[str]
) -> None:
    found = {c.text: c for c in parse(query)}
    assert text in found, list(found)
    crit = found[text]
    [concept] = crit.concepts  # one concept: its phrases are every alternative's
    assert set(concept.label.split(" / ")) == labels
    assert crit.search_text == " or ".join(concept.label.split(" / "))
    assert not any(c.text in labels for c in found.values())  # not also criteria of their own
