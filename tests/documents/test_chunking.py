"""Structure- and sentence-aware chunking for Korean and English."""

from __future__ import annotations

import itertools

import pytest

from shared.documents import Block, BlockKind, ExtractedDocument, chunk
from shared.documents.sentences import language, split_sentences

KOREAN_SENTENCES = [
    "저는 5년 동안 백엔드 개발자로 일했습니다.",
    "처음 2년은 결제 시스템을 만들었고, 이후에는 메시지 큐 기반의 주문 처리 시스템을 설계했습니다.",
    "Kafka 대신 RabbitMQ를 고른 이유는 라우팅이 유연하고 운영이 단순했기 때문입니다.",
    "장애가 나면 직접 원인을 분석하고 재발 방지 대책을 문서로 남겼습니다.",
    "팀원들과 코드 리뷰 문화를 만들었습니까?",
    "네, 모든 변경은 두 명 이상의 리뷰를 거치도록 했습니다!",
    "MicroK8s 클러스터에서 서비스를 운영하며 비용을 40% 줄였습니다.",
    "요즘은 gpt-4o를 이용한 사내 검색 도구를 만들고 있습니다.",
]


def doc(*blocks: Block, title: str = "이력서") -> ExtractedDocument:
    return ExtractedDocument(title=title, blocks=list(blocks))


def para(text: str, path: tuple[str, ...] = ("경력",)) -> Block:
    return Block(BlockKind.PARAGRAPH, text, 0, path)


def heading(text: str, level: int, path: tuple[str, ...]) -> Block:
    return Block(BlockKind.HEADING, text, level, path)


def item(text: str, path: tuple[str, ...] = ("경력",)) -> Block:
    return Block(BlockKind.LIST_ITEM, text, 1, path)


# --- sentences -----------------------------------------------------------------------


def test_korean_text_splits_at_sentence_boundaries() -> None:
    assert split_sentences(" ".join(KOREAN_SENTENCES)) == KOREAN_SENTENCES


def test_korean_sentences_without_punctuation() -> None:
    text = "그는 Kafka를 골랐다 그리고 RabbitMQ로 바꿨습니다 왜냐하면 운영이 쉬웠기 때문입니다"
    assert split_sentences(text) == [
        "그는 Kafka를 골랐다",
        "그리고 RabbitMQ로 바꿨습니다",
        "왜냐하면 운영이 쉬웠기 때문입니다",
    ]


def test_english_sentences_respect_abbreviations_and_numbers() -> None:
    text = (
        "Dr. Kim joined Acme Inc. in 2020. She led 3.5 teams, e.g. payments and search. "
        'He said "Ship it!" Then we did. Was it worth it? Yes… mostly. Node.js stayed.'
    )
    assert split_sentences(text) == [
        "Dr. Kim joined Acme Inc. in 2020.",
        "She led 3.5 teams, e.g. payments and search.",
        'He said "Ship it!"',
        "Then we did.",
        "Was it worth it?",
        "Yes… mostly.",
        "Node.js stayed.",
    ]


def test_language() -> None:
    assert language("Kubernetes 클러스터를 3년 동안 운영했습니다.") == "ko"
    assert language("저는 Spring Boot, Kotlin, PostgreSQL, Redis를 씁니다.") == "ko"
    assert language("I ran Kubernetes in production for three years.") == "en"
    assert language("I know one Korean word: 안녕.") == "en"
    assert language("12345") == "en"


# --- chunks --------------------------------------------------------------------------


def test_korean_chunks_are_made_of_whole_sentences() -> None:
    paragraph = " ".join(KOREAN_SENTENCES)
    chunks = chunk(doc(para(paragraph)), target_chars=80, max_chars=120, overlap_sentences=0)
    assert len(chunks) > 2
    rebuilt: list[str] = []
    for c in chunks:
        pieces = split_sentences(c.text)
        assert all(piece in KOREAN_SENTENCES for piece in pieces), c.text
        rebuilt.extend(pieces)
        assert len(c.text) <= 120
    assert rebuilt == KOREAN_SENTENCES  # nothing lost, nothing repeated, in order


def test_overlap_repeats_the_last_sentence_within_a_section() -> None:
    paragraph = " ".join(KOREAN_SENTENCES)
    chunks = chunk(doc(para(paragraph)), target_chars=150, max_chars=300, overlap_sentences=1)
    assert len(chunks) >= 2
    for before, after in itertools.pairwise(chunks):
        last = split_sentences(before.text)[-1]
        assert after.text.startswith(last)
        assert after.text != last
    assert all(len(c.text) <= 300 for c in chunks)


def test_no_overlap_across_sections() -> None:
    blocks = [
        heading("A", 1, ("A",)),
        para("First section sentence one. First section sentence two.", ("A",)),
        heading("B", 1, ("B",)),
        para("Second section sentence.", ("B",)),
    ]
    chunks = chunk(doc(*blocks), target_chars=30, max_chars=60)
    b_chunks = [c for c in chunks if c.section_path == ("B",)]
    assert [c.text for c in b_chunks] == ["B\nSecond section sentence."]


def test_chunks_follow_sections_and_carry_title_and_path() -> None:
    blocks = [
        heading("홍길동", 1, ("홍길동",)),
        heading("경력", 2, ("홍길동", "경력")),
        heading("Acme", 3, ("홍길동", "경력", "Acme")),
        para("결제 시스템을 만들었습니다.", ("홍길동", "경력", "Acme")),
        heading("Skills", 2, ("홍길동", "Skills")),
        item("Kotlin, Spring Boot", ("홍길동", "Skills")),
        heading("Empty at the end", 2, ("홍길동", "Empty at the end")),
    ]
    chunks = chunk(doc(*blocks, title="홍길동"))
    assert [(c.ordinal, c.text, c.section_path) for c in chunks] == [
        (0, "홍길동\n경력\nAcme\n결제 시스템을 만들었습니다.", ("홍길동", "경력", "Acme")),
        (1, "Skills\nKotlin, Spring Boot", ("홍길동", "Skills")),
        (2, "Empty at the end", ("홍길동", "Empty at the end")),
    ]
    assert all(c.title == "홍길동" for c in chunks)
    assert chunks[0].section == "홍길동 > 경력 > Acme"
    assert [c.language for c in chunks] == ["ko", "en", "en"]


def test_list_items_stay_whole() -> None:
    long_item = "Designed the event pipeline, " * 10 + "and it ran for years."
    blocks = [item("Short item one."), item(long_item), item("Short item two.")]
    chunks = chunk(doc(*blocks), target_chars=100, max_chars=400)
    assert any(long_item in c.text for c in chunks)
    assert sum(c.text.count("Designed the event pipeline") for c in chunks) == 10


def test_a_sentence_longer_than_max_is_cut_at_spaces() -> None:
    words = [f"word{n}" for n in range(600)]
    monster = " ".join(words)  # one "sentence" of ~4,500 characters
    chunks = chunk(doc(para(monster, ())), target_chars=900, max_chars=1400, overlap_sentences=0)
    assert len(chunks) >= 4
    assert all(len(c.text) <= 1400 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == words  # cut between words only


def test_a_sentence_without_spaces_is_cut_hard() -> None:
    chunks = chunk(doc(para("가" * 3000, ())), target_chars=900, max_chars=1400)
    assert all(len(c.text) <= 1400 for c in chunks)
    assert "".join(c.text for c in chunks).count("가") >= 3000


def test_default_sizes_pack_paragraphs_up_to_the_target() -> None:
    sentences = [f"Sentence number {n} talks about distributed systems." for n in range(60)]
    chunks = chunk(doc(para(" ".join(sentences), ())), overlap_sentences=0)
    assert all(450 <= len(c.text) <= 1400 for c in chunks[:-1])
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_small_blocks_share_a_chunk() -> None:
    blocks = [para("One."), item("Two."), para("Three.")]
    assert [c.text for c in chunk(doc(*blocks))] == ["One.\nTwo.\nThree."]


def test_bad_sizes() -> None:
    with pytest.raises(ValueError, match="target_chars"):
        chunk(doc(para("x")), target_chars=0)
    with pytest.raises(ValueError, match="target_chars"):
        chunk(doc(para("x")), target_chars=500, max_chars=100)
    with pytest.raises(ValueError, match="overlap"):
        chunk(doc(para("x")), overlap_sentences=-1)


def test_a_long_code_block_is_cut_between_lines_and_each_piece_fenced() -> None:
    lines = [f"step_{n} = run({n})  # {'x' * 40}" for n in range(60)]
    code = Block(BlockKind.CODE, "\n".join(lines), 0, ("경력",))
    chunks = chunk(doc(para(KOREAN_SENTENCES[0]), code), target_chars=400, max_chars=600)
    pieces = [c.text for c in chunks if "step_" in c.text]
    assert len(pieces) > 1
    seen = []
    for text in pieces:
        assert len(text) <= 600
        fenced = text[text.index("```\n") + 4 : text.rindex("\n```")]
        seen.extend(fenced.split("\n"))
    assert seen == lines  # every line once, whole, in order
