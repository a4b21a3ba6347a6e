"""The talent-search page (/talent) in real headless Chromium against the whole running
system: people are protostars with a discoverable bot and a CV uploaded through the API;
HR users sign up or log in on the page, search in Korean and in English, edit the
criteria and search again, read verdicts and evidence, and follow "ask this person" to
the chat page with the question filled in."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.web.conftest import System, shot

pytestmark = pytest.mark.e2e

PASSWORD = "Talent-search-2024"
# Each person: a protostar of their own, one discoverable bot, one CV. Their words are
# picked for what each test asks (the parser's lexicon knows Rust, Terraform, Kafka,
# Kotlin, Java, Android and Figma); the hostile name must reach the page as text.
PEOPLE: dict[str, dict[str, str]] = {
    "rust": {
        "name": "Mina Park",
        "file": "mina.md",
        "text": (
            "# Mina Park\n\nBackend developer with 6 years of experience building payment "
            "services in Seoul.\n\nRust and Go services for a payments ledger, Kafka "
            "streaming, PostgreSQL tuning. Terraform and Kubernetes on AWS.\n"
        ),
    },
    "android": {
        "name": "이준호",
        "file": "junho.md",
        "text": (
            "# 이준호\n\n안드로이드 앱 개발자, 경력 4년. 자바로 쇼핑 앱을 만들었고 디자이너와 "
            "함께 일했습니다.\n\n# 기술\n\n자바, 안드로이드, 파이어베이스\n"
        ),
    },
    "designer": {
        "name": "Sora Kim",
        "file": "sora.md",
        "text": (
            "# Sora Kim\n\nUX designer with 5 years of experience. Figma prototyping, user "
            "research and design systems for fintech apps.\n"
        ),
    },
    "hostile": {
        "name": "<img src=x onerror=\"window.__pwned='name'\"> Wombat Lee",
        "file": "wombat.md",
        "text": "# Wombat Lee\n\nWombatql engineer: built the wombatql compiler.\n",
    },
}
KOREAN_QUERY = "자바를 쓰는 안드로이드 개발자, 3년 이상, 피그마 우대"
ENGLISH_QUERY = "Rust backend developer with Terraform and Kotlin"
# What the page says (web/static/i18n.js): the tests read it as a user does.
COUNTS = {
    "ko": re.compile(r"^\d+명 검색, \d+명 일치"),
    "en": re.compile(r"^\d+ people searched, \d+ matched"),
}
SAYS = {
    "ko": {
        "login_title": "로그인하고 인재를 찾아보세요",
        "welcome": "환영합니다! 계정이 만들어졌어요. 찾는 사람을 설명해 보세요.",
        "empty_query": "찾는 사람을 설명해 주세요.",
        "met": "충족",
        "quota": "오늘 남은 검색 19/20회",
        "ask": "이 사람에게 질문하기",
    },
    "en": {
        "missing": "Not found",
        "met": "Met",
        "quota_spent": "You have used today's searches. You can search again from ",
        "no_left": "No searches left today · resets ",
    },
}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def _signup(client: httpx.Client, tag: str) -> tuple[str, str]:
    """A new stargazer through the API: (email, access token)."""
    email = _new_email(tag)
    made = client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert made.status_code == 201, made.text
    return email, made.json()["access_token"]


def _wait_ready(client: httpx.Client, slug: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        documents = client.get(f"/api/bots/{slug}/documents", headers=headers).json()["documents"]
        if documents and all(d["status"] in ("ready", "failed") for d in documents):
            assert all(d["status"] == "ready" for d in documents), documents
            return
        time.sleep(0.5)
    pytest.fail(f"the documents of {slug} never became ready")


@pytest.fixture(scope="module")
def people(system: System) -> dict[str, dict[str, str]]:
    """Per person: their bot's slug and their access token."""
    out: dict[str, dict[str, str]] = {}
    with system.api() as client:
        for key, spec in PEOPLE.items():
            _, token = _signup(client, f"person-{key}")
            upgraded = client.post(
                "/api/users/me/invite", json={"code": system.invite()}, headers=_bearer(token)
            )
            assert upgraded.status_code == 200, upgraded.text
            headers = _bearer(upgraded.json()["access_token"])
            slug = f"{key}-{uuid.uuid4().hex[:8]}"
            created = client.post(
                "/api/bots",
                json={"slug": slug, "name": spec["name"], "discoverable": True},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            uploaded = client.post(
                f"/api/bots/{slug}/documents",
                files={"file": (spec["file"], spec["text"].encode(), "text/markdown")},
                headers=headers,
            )
            assert uploaded.status_code == 202, uploaded.text
            out[key] = {"slug": slug, "token": upgraded.json()["access_token"]}
        for person in out.values():
            _wait_ready(client, person["slug"], _bearer(person["token"]))
    return out


@pytest.fixture
def hr(system: System) -> tuple[str, str]:
    """An HR user made through the API (the Korean test signs up on the page): (email,
    access token)."""
    with system.api() as client:
        return _signup(client, "hr")


def korean(browser: Any) -> Any:
    ctx = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    ctx.set_default_timeout(30_000)
    return ctx


def log_in(page: Any, system: System, email: str) -> None:
    page.goto(f"{system.url}/talent")
    form = page.locator("#login-form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    page.locator("#search-view").wait_for()


def search(page: Any, query: str, before: int) -> Any:
    """Type the sentence, press Enter, and wait for its results (``before`` saved
    searches were listed: the new one makes one more)."""
    page.locator("#query").fill(query)
    page.locator("#query").press("Enter")
    return wait_results(page, before)


def wait_results(page: Any, saved_before: int) -> Any:
    saved = page.locator("#saved li.saved")
    problem = page.locator("#search-error:not(:empty)")
    saved.nth(saved_before).or_(problem).first.wait_for(timeout=60_000)
    if problem.count():
        pytest.fail(f"the talent page shows an error: {problem.inner_text()}")
    page.locator("#results-section[aria-busy='false']").wait_for()
    return page.locator("#results")


def result_of(page: Any, slug: str) -> Any:
    result = page.locator(f"#results li.result[data-bot='{slug}']")
    assert result.count() == 1, page.locator("#results").inner_text()
    return result


def chip(page: Any, text: str) -> Any:
    """The criterion chip whose text is ``text``."""
    found = page.locator("#criteria li.criterion").filter(
        has=page.locator(".crit-text", has_text=re.compile(f"^{re.escape(text)}$"))
    )
    assert found.count() == 1, page.locator("#criteria").inner_text()
    return found


def criterion_id(page: Any, text: str) -> str:
    value: str = chip(page, text).get_attribute("data-id") or ""
    assert value, text
    return value


def hangul_is_drawn(page: Any, selector: str) -> None:
    """Each syllable in the element's own font is a distinct, non-empty glyph (missing
    glyphs all draw the same box, as private-use characters do)."""
    glyphs = page.evaluate(
        """(selector) => {
            const font = getComputedStyle(document.querySelector(selector)).font;
            const draw = (ch) => {
                const c = document.createElement('canvas');
                c.width = 64; c.height = 64;
                const g = c.getContext('2d');
                g.font = font.replace(/\\d+(\\.\\d+)?px/, '40px');
                g.fillText(ch, 8, 48);
                const px = g.getImageData(0, 0, 64, 64).data;
                let ink = 0, sig = '';
                for (let i = 3; i < px.length; i += 4) { if (px[i] > 128) ink++;
                    sig += px[i] > 128 ? '1' : '0'; }
                return {ink, sig};
            };
            return ['인', '재', '검', '\\ue000'].map(draw);
        }""",
        selector,
    )
    hangul, box = glyphs[:3], glyphs[3]
    assert all(g["ink"] > 20 for g in hangul), [g["ink"] for g in hangul]
    assert len({g["sig"] for g in hangul}) == 3, "Hangul syllables draw the same box"
    assert all(g["sig"] != box["sig"] for g in hangul), "Hangul renders as tofu"


# --------------------------------------------------------------------------- Korean


def test_an_hr_user_signs_up_on_the_page_and_searches_in_korean(
    system: System, browser: Any, people: dict[str, dict[str, str]]
) -> None:
    context = korean(browser)
    try:
        page = context.new_page()
        page.goto(f"{system.url}/talent")
        # Signed out: the sign-in form, in Korean, and the way to an account.
        page.locator("#login-view").wait_for()
        assert page.locator("html").get_attribute("lang") == "ko"
        assert page.locator("#login-title").inner_text() == SAYS["ko"]["login_title"]
        assert page.locator("#search-view").is_hidden()
        page.get_by_role("button", name="계정 만들기").click()
        form = page.locator("#signup-form")
        email = _new_email("hr-ko")
        form.get_by_label("이메일", exact=True).fill(email)
        form.get_by_label("비밀번호", exact=True).fill(PASSWORD)
        form.get_by_label("이름 (선택)", exact=True).fill("김인사")
        form.get_by_role("button", name="계정 만들기").click()
        page.locator("#search-view").wait_for()
        assert page.locator("#welcome").inner_text() == SAYS["ko"]["welcome"]
        assert page.locator("#me").inner_text() == "김인사(으)로 로그인됨"
        page.locator("#no-saved:not([hidden])").wait_for()

        # An empty sentence is told in Korean before any call.
        page.get_by_role("button", name="검색", exact=True).click()
        assert page.locator("#search-error").inner_text() == SAYS["ko"]["empty_query"]
        assert page.locator("#query").get_attribute("aria-invalid") == "true"

        results = search(page, KOREAN_QUERY, before=0)
        assert COUNTS["ko"].match(page.locator("#counts").inner_text())
        assert page.locator("#quota").inner_text().startswith(SAYS["ko"]["quota"])
        first = results.locator("li.result").first
        assert first.get_attribute("data-bot") == people["android"]["slug"]
        assert first.locator(".result-name").inner_text() == "이준호"
        # The criteria read from the sentence, as chips with their kind in Korean.
        java = chip(page, "자바")
        assert java.locator("select").input_value() == "must"
        assert java.locator("select").evaluate("s => s.selectedOptions[0].textContent") == "필수"
        assert chip(page, "피그마").locator("select").input_value() == "nice"
        # Verdicts in words (and a mark), labelled for screen readers; evidence as text.
        finding = first.locator(f"li.finding[data-criterion='{criterion_id(page, '자바')}']")
        assert finding.get_attribute("data-verdict") == "met"
        assert finding.get_attribute("aria-label") == f"자바: {SAYS['ko']['met']}"
        assert finding.locator(".verdict").inner_text().endswith(SAYS["ko"]["met"])
        snippets = finding.locator(".snippet").all_inner_texts()
        assert snippets
        assert all("자바" in s for s in snippets), snippets
        assert first.locator(".ask-link").inner_text() == SAYS["ko"]["ask"]
        # The saved search is listed.
        saved = page.locator("#saved li.saved")
        assert saved.count() == 1
        assert saved.first.locator(".saved-query").inner_text() == KOREAN_QUERY
        hangul_is_drawn(page, "#talent-title")
        hangul_is_drawn(page, ".finding-text")
        shot(page, "talent-korean")
        # A narrow screen: one column, nothing wider than the screen.
        page.set_viewport_size({"width": 420, "height": 860})
        for selector in ("#search-form", "#criteria", "#results li.result >> nth=0", "#saved"):
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            assert box["x"] >= 0, selector
            assert box["x"] + box["width"] <= 420, selector
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 420
        shot(page, "talent-korean-mobile")
    finally:
        context.close()


# --------------------------------------------------------------------------- English


def test_turning_a_criterion_off_and_searching_again_then_asking_the_person(
    system: System, context: Any, people: dict[str, dict[str, str]], hr: tuple[str, str]
) -> None:
    email, token = hr
    mina = people["rust"]["slug"]
    page = context.new_page()
    log_in(page, system, email)
    assert page.locator("html").get_attribute("lang") == "en"
    search(page, ENGLISH_QUERY, before=0)
    assert COUNTS["en"].match(page.locator("#counts").inner_text())
    kotlin = criterion_id(page, "Kotlin")
    terraform = criterion_id(page, "Terraform")
    result = result_of(page, mina)
    missing = result.locator(f"li.finding[data-criterion='{kotlin}']")
    assert missing.get_attribute("data-verdict") == "missing"
    assert missing.get_attribute("aria-label") == f"Kotlin: {SAYS['en']['missing']}"
    assert missing.locator(".verdict").inner_text().endswith(SAYS["en"]["missing"])
    assert missing.locator(".snippet").count() == 0  # no evidence for what is not there

    # Kotlin off, Terraform only nice to have, Kafka added: nothing is sent until asked.
    chip(page, "Kotlin").get_by_role("checkbox").uncheck()
    assert chip(page, "Kotlin").get_attribute("data-enabled") == "false"
    assert "“Kotlin” is off." in page.locator("#criteria-status").inner_text()
    chip(page, "Terraform").get_by_role("combobox", name="Kind of “Terraform”").select_option(
        "nice"
    )
    page.get_by_role("textbox", name="Add a criterion").fill("Kafka")
    page.get_by_role("textbox", name="Add a criterion").press("Enter")
    assert chip(page, "Kafka").get_attribute("data-id") == ""
    assert page.locator("#saved li.saved").count() == 1
    page.get_by_role("button", name="Search again").click()
    wait_results(page, 1)

    # The new search ran with the edited criteria ...
    assert chip(page, "Kotlin").get_attribute("data-enabled") == "false"
    assert chip(page, "Kotlin").get_by_role("checkbox").is_checked() is False
    assert chip(page, "Terraform").get_attribute("data-kind") == "nice"
    assert chip(page, "Kafka").get_attribute("data-type") == "skill"
    kafka = criterion_id(page, "Kafka")
    result = result_of(page, mina)
    findings = result.locator("li.finding")
    ids = [findings.nth(i).get_attribute("data-criterion") for i in range(findings.count())]
    assert kotlin not in ids, ids  # a criterion turned off is not judged
    assert terraform in ids, ids
    assert kafka in ids, ids
    met = result.locator(f"li.finding[data-criterion='{kafka}']")
    assert met.get_attribute("data-verdict") == "met"
    assert met.get_attribute("aria-label") == f"Kafka: {SAYS['en']['met']}"
    assert any("Kafka" in s for s in met.locator(".snippet").all_inner_texts())
    nice = result.locator(f"li.finding[data-criterion='{terraform}']")
    assert "Nice to have" in nice.locator(".finding-head").inner_text()
    # ... which the API saved as they were sent.
    with system.api() as client:
        listed = client.get("/api/talent/searches", headers=_bearer(token)).json()["searches"]
    assert [s["query"] for s in listed] == [ENGLISH_QUERY, ENGLISH_QUERY]
    newest = {c["text"]: c for c in listed[0]["criteria"]}
    assert newest["Kotlin"]["enabled"] is False
    assert newest["Terraform"]["kind"] == "nice"
    assert newest["Kafka"]["kind"] == "must"
    # The saved searches on the page: newest first, the one with a criterion off says so.
    saved = page.locator("#saved li.saved")
    assert saved.count() == 2
    assert saved.first.get_attribute("data-id") == listed[0]["id"]
    assert "4 criteria, 1 off" in saved.first.inner_text()
    assert "3 criteria" in saved.nth(1).inner_text()
    shot(page, "talent-search-again")

    # "Ask this person": the chat page of Mina's bot, the sentence in the box, unsent.
    link = result.get_by_role("link", name="Ask this person (Mina Park)")
    assert link.get_attribute("rel") == "noopener noreferrer"
    with context.expect_page() as opened:
        link.click()
    chat = opened.value
    chat.locator("html[data-ready='true']").wait_for()
    parts = urlsplit(chat.url)
    assert parts.path == f"/b/{mina}"
    assert parse_qs(parts.query)["q"] == [ENGLISH_QUERY]
    assert chat.locator("#question").input_value() == ENGLISH_QUERY
    chat.wait_for_timeout(300)
    assert chat.locator(".msg.user").count() == 0  # filled in, never sent
    shot(chat, "talent-ask-prefilled")

    # A saved search runs again with its own criteria (Kotlin on again).
    page.bring_to_front()
    saved.nth(1).get_by_role("button", name=f"Run again: {ENGLISH_QUERY}").click()
    wait_results(page, 2)
    assert chip(page, "Kotlin").get_attribute("data-enabled") == "true"
    assert chip(page, "Terraform").get_attribute("data-kind") == "must"
    assert page.locator("#criteria li.criterion").count() == 3
    assert page.locator("#saved li.saved").count() == 3


def test_names_and_evidence_are_shown_as_text(
    system: System, context: Any, people: dict[str, dict[str, str]], hr: tuple[str, str]
) -> None:
    page = context.new_page()
    log_in(page, system, hr[0])
    search(page, "wombatql engineer", before=0)
    result = result_of(page, people["hostile"]["slug"])
    assert result.locator(".result-name").inner_text() == PEOPLE["hostile"]["name"]
    assert result.locator(".snippet").first.inner_text().startswith("Wombat")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#results img, #results script, #results svg").count() == 0
    for href in page.locator("#results a").evaluate_all("links => links.map(a => a.href)"):
        assert href.startswith(f"{system.url}/b/"), href


def test_the_spent_quota_says_when_searching_works_again(
    system: System, context: Any, hr: tuple[str, str]
) -> None:
    email, token = hr
    with system.api() as client:
        while True:
            spent = client.post("/api/talent/search", json={"query": "HR"}, headers=_bearer(token))
            if spent.status_code == 429:
                break
            assert spent.status_code == 201, spent.text
        reset_at = spent.json()["error"]["reset_at"]
    page = context.new_page()
    log_in(page, system, email)
    page.locator("#saved li.saved").first.wait_for()
    page.locator("#query").fill(ENGLISH_QUERY)
    page.get_by_role("button", name="Search", exact=True).click()
    error = page.locator("#search-error:not(:empty)")
    error.wait_for()
    text = error.inner_text()
    assert text.startswith(SAYS["en"]["quota_spent"]), text
    when = page.evaluate(
        "(iso) => new Date(iso).toLocaleString('en-US', {dateStyle: 'medium', timeStyle: 'short'})",
        reset_at,
    )
    assert text == f"{SAYS['en']['quota_spent']}{when}.", text
    assert page.locator("#quota").inner_text() == f"{SAYS['en']['no_left']}{when}"
    assert page.locator("#results-section").is_hidden()
    shot(page, "talent-quota-spent")
