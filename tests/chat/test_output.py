"""The output filter: no HTML, no images, links only to allowed places, whatever way
the model's text is cut into pieces."""

from __future__ import annotations

import random
import re

import pytest

from shared.chat.output import OutputFilter

ALLOWED = ["https://blog.example.com"]


def run(text: str, pieces: list[int] | None = None, urls: tuple[str, ...] = ()) -> str:
    f = OutputFilter(ALLOWED, urls)
    out = []
    pos = 0
    for size in pieces or [len(text)]:
        out.append(f.feed(text[pos : pos + size]))
        pos += size
    out.append(f.feed(text[pos:]))
    out.append(f.close())
    return "".join(out)


CASES = [
    ("plain text [1] stays", "plain text [1] stays"),
    ("a <script>alert(1)</script> b", "a alert(1) b"),
    ('<img src=x onerror="window.__pwned=1">hi', "hi"),
    ("see ![logo](https://evil.example/x.png) here", "see logo here"),
    ("[my blog](https://blog.example.com/post) ok", "[my blog](https://blog.example.com/post) ok"),
    ("[click](https://evil.example/phish) now", "click now"),
    ("[x](javascript:alert(1))", "x"),
    ("visit https://evil.example/a?b=c today", "visit [link removed] today"),
    ("visit https://blog.example.com/about today", "visit https://blog.example.com/about today"),
    ("p95 < 25 ms and > 10", "p95 < 25 ms and > 10"),
    ("bell\x07 and \u202eRTL", "bell and RTL"),
    ("한국어 답변입니다 [2]", "한국어 답변입니다 [2]"),
    ("list:\n- one [1]\n- two [2]", "list:\n- one [1]\n- two [2]"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_whole_text(text: str, expected: str) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_any_split_gives_the_same_result(text: str, expected: str) -> None:
    assert run(text, [1] * len(text)) == expected
    rng = random.Random(len(text))
    for _ in range(20):
        cuts = [rng.randint(1, 7) for _ in range(len(text))]
        assert run(text, cuts) == expected


def test_links_found_in_the_passages_are_allowed() -> None:
    url = "https://github.com/seojun/outbox"
    assert run(f"code: {url}", urls=(url,)) == f"code: {url}"
    f = OutputFilter.for_passages([], [f"My project lives at {url}."])
    assert f.clean(f"see {url}") == f"see {url}"
    assert f.clean("see https://github.com/other") == "see [link removed]"


def test_an_unfinished_construct_is_not_held_forever() -> None:
    f = OutputFilter(ALLOWED)
    released = f.feed("<" + "a" * 5000)
    assert len(released) > 4000  # no closing '>' ever came: released as text


def test_a_stray_bracket_does_not_hold_the_stream_back() -> None:
    f = OutputFilter(ALLOWED)
    assert f.feed("items[0 is the first\nnext ") == "items[0 is the first\nnext "


BYPASSES = [
    "<<b>img src=x onerror=alert(1)>",
    "<scr<b>ipt>alert(1)</script>",
    "[x](https://evil.example\\@blog.example.com/a)",
    "see https://evil.example\\@blog.example.com/a ok",
    "[x](https://user@blog.example.com.evil.example/a)",
    "![a][1]\n\n[1]: //evil.example/x.png\n",
    "[x](//evil.example/p)",
    "_https://evil.example/phish_ ok",
    "블로그https://evil.example/phish 참고",
    "1https://evil.example/p ok",
    '![x](https://evil.example/x.png "title")',
    "<\u200bimg src=x onerror=alert(1)>",
    "https://blog.example.com.evil.example/x ok",
]


@pytest.mark.parametrize("text", BYPASSES)
def test_known_bypasses_stay_closed_under_any_split(text: str) -> None:
    rng = random.Random(text)
    splits = [[len(text)], [1] * len(text)] + [
        [rng.randint(1, 9) for _ in range(len(text))] for _ in range(30)
    ]
    for cuts in splits:
        out = run(text, cuts)
        assert "evil.example" not in out.replace("[link removed]", ""), (cuts[:5], out)
        assert re.search(r"<[A-Za-z/!?]", out) is None, out
        assert re.search(r"!\[[^\]]*\]\(", out) is None, out


def test_an_unfinished_tag_released_by_the_hold_limit_cannot_be_completed() -> None:
    head = "<img src=x onerror=alert(1) " + "a" * 2100
    out = run(head + " b>", [len(head), 3])
    assert re.search(r"<[A-Za-z]", out) is None
    link = "[" + "a" * 290
    out = run(link + "](https://evil.example/" + "b" * 2100 + ") z", [len(link), 2123])
    assert "](https://evil" not in out
