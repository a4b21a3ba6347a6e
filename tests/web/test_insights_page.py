"""The dashboard's insights tab shows the bot's appearances in talent searches (issue #18,
4), in real headless Chromium against the whole running system: a person's bot is found
by two searches, a searcher follows "ask this person" and sends the question the chat
page filled in, and the owner reads how often, for which criteria with what verdicts,
and that one question came from talent search, in English and in Korean, as text."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.web.conftest import System, shot

pytestmark = pytest.mark.e2e

PASSWORD = "Insights-pass-2024"
CV = (
    "# Vela Moon\n\nZorbitron engineer with seven years of experience: built the zorbitron "
    "ledger and its replication.\n"
)
HOSTILE = "<img src=x onerror=\"window.__pwned='criterion'\">"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signup(client: httpx.Client, tag: str) -> tuple[str, str]:
    email = f"{tag}-{uuid.uuid4().hex[:10]}@example.com"
    made = client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert made.status_code == 201, made.text
    return email, made.json()["access_token"]


@pytest.fixture(scope="module")
def person(system: System) -> dict[str, str]:
    """A protostar with one discoverable bot and a CV: email, slug, token."""
    with system.api() as client:
        email, token = _signup(client, "vela")
        upgraded = client.post(
            "/api/users/me/invite", json={"code": system.invite()}, headers=_bearer(token)
        )
        assert upgraded.status_code == 200, upgraded.text
        token = upgraded.json()["access_token"]
        slug = f"vela-{uuid.uuid4().hex[:8]}"
        bot = {"slug": slug, "name": "Vela Moon", "discoverable": True}
        made = client.post("/api/bots", json=bot, headers=_bearer(token))
        assert made.status_code == 201, made.text
        uploaded = client.post(
            f"/api/bots/{slug}/documents",
            files={"file": ("vela.md", CV.encode(), "text/markdown")},
            headers=_bearer(token),
        )
        assert uploaded.status_code == 202, uploaded.text
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            docs = client.get(f"/api/bots/{slug}/documents", headers=_bearer(token)).json()
            if docs["documents"] and docs["documents"][0]["status"] in ("ready", "failed"):
                break
            time.sleep(0.5)
        assert docs["documents"][0]["status"] == "ready", docs
    return {"email": email, "slug": slug, "token": token}


def _search(client: httpx.Client, token: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = client.post("/api/talent/search", json=body, headers=_bearer(token))
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()
    return data


def _open_insights(page: Any, system: System, email: str, query: str = "") -> Any:
    page.goto(f"{system.url}/dashboard{query}")
    page.locator("#login-form input[name=email]").fill(email)
    page.locator("#login-form input[name=password]").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.locator("#app-view").wait_for()
    page.locator("#tabs [data-panel='insights']").click()
    section = page.locator("#appearances")
    page.locator("#appearances-summary:not(:empty)").wait_for()
    return section


def criterion(page: Any, text: str) -> Any:
    """The listed criterion whose text is exactly ``text``."""
    found = page.locator("#appearance-criteria li.appearance-criterion").filter(
        has=page.locator(".crit-text", has_text=re.compile(f"^{re.escape(text)}$"))
    )
    assert found.count() == 1, page.locator("#appearance-criteria").inner_text()
    return found


def test_the_insights_tab_shows_the_appearances_and_the_questions_they_led_to(
    system: System, browser: Any, context: Any, person: dict[str, str]
) -> None:
    slug = person["slug"]
    with system.api() as client:
        _, hr = _signup(client, "hr-insights")
        found = _search(client, hr, {"query": "zorbitron engineer"})
        again = _search(client, hr, {"query": "zorbitron", "criteria": [
            {"text": "Zorbitron", "kind": "must"}, {"text": HOSTILE, "kind": "nice"}]})  # fmt: skip
    for reply in (found, again):
        assert slug in [r["bot"] for r in reply["results"]], reply["results"]
    link = next(r["ask_url"] for r in found["results"] if r["bot"] == slug)
    assert "via=talent" in urlsplit(link).query

    # The searcher follows the link (a guest on the chat page) and sends what it filled in.
    chat = context.new_page()
    chat.goto(system.url + urlsplit(link).path + "?" + urlsplit(link).query)
    chat.locator("html[data-ready='true']").wait_for()
    assert chat.locator("#question").input_value() == "zorbitron engineer"
    chat.locator("#send").click()
    done = chat.locator(".msg.bot[data-done='true']").or_(chat.locator(".msg.error")).first
    done.wait_for(timeout=60_000)
    assert chat.locator(".msg.error").count() == 0, chat.locator(".msg.error").inner_text()
    message = chat.locator(".msg.bot[data-done='true']").get_attribute("data-message-id")
    assert system.sql("SELECT source FROM messages WHERE id = %s", message) == [("talent",)]
    # The chat page opened without the marker asks as ever ('direct').
    plain = browser.new_context(locale="en-US")
    try:
        direct = plain.new_page()
        direct.goto(f"{system.url}/b/{slug}")
        direct.locator("html[data-ready='true']").wait_for()
        direct.locator("#question").fill("Where is the ledger?")
        direct.locator("#send").click()
        answer = direct.locator(".msg.bot[data-done='true']").or_(direct.locator(".msg.error"))
        answer.first.wait_for(timeout=60_000)
        assert direct.locator(".msg.error").count() == 0
    finally:
        plain.close()
    rows = system.sql(
        "SELECT source, count(*) FROM messages m JOIN bots b ON b.id = m.bot_id "
        "WHERE b.slug = %s GROUP BY source ORDER BY source",
        slug,
    )
    assert rows == [("direct", 1), ("talent", 1)], rows

    # The owner's insights tab, in English.
    page = context.new_page()
    section = _open_insights(page, system, person["email"])
    assert page.locator("#appearances-title").inner_text() == "In talent searches"
    summary = page.locator("#appearances-summary").inner_text()
    assert summary.startswith("Shown in 2 talent searches · median rank "), summary
    assert page.locator("#appearances-asked").inner_text() == (
        "Asked from talent search: 1 question in 1 conversation, by 1 asker"
    )
    assert page.locator("#appearances-off").is_hidden()  # the bot is discoverable
    weeks = page.locator("#appearance-weeks tr")
    assert weeks.count() >= 5
    shown = sum(int(weeks.nth(i).locator("td.shown").inner_text()) for i in range(weeks.count()))
    asked = sum(int(weeks.nth(i).locator("td.asked").inner_text()) for i in range(weeks.count()))
    assert (shown, asked) == (2, 1)
    assert page.locator("#appearances thead th").all_inner_texts() == ["Week", "Shown", "Asked"]
    items = page.locator("#appearance-criteria li.appearance-criterion")
    texts = items.locator(".crit-text").all_inner_texts()
    assert sorted(texts) == sorted([HOSTILE, "Zorbitron", "zorbitron engineer"]), texts
    zorbitron = criterion(page, "Zorbitron")
    assert zorbitron.get_attribute("data-kind") == "must"
    assert "Zorbitron · Must have · 1 time" in zorbitron.inner_text()
    mix = zorbitron.locator(".verdict-mix span").all_inner_texts()
    assert mix == ["Met 1", "Partly met 0", "Not found 0"], mix
    hostile = criterion(page, HOSTILE)  # shown as text, never as markup
    assert " · Nice to have · 1 time" in hostile.inner_text()
    assert hostile.locator("[data-verdict='missing']").inner_text() == "Not found 1"
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    assert section.locator("img, script").count() == 0
    assert page.locator("#error").inner_text() == ""
    section.scroll_into_view_if_needed()
    shot(page, "dashboard-insights-appearances")

    # In Korean.
    ko = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    try:
        page = ko.new_page()
        _open_insights(page, system, person["email"], "?lang=ko")
        assert page.locator("#appearances-title").inner_text() == "인재 검색 노출"
        assert page.locator("#appearances-summary").inner_text().startswith("인재 검색 2회 노출")
        assert page.locator("#appearances-asked").inner_text() == (
            "인재 검색에서 이어진 질문: 1개 (대화 1개, 질문한 사람 1명)"
        )
        zorbitron = criterion(page, "Zorbitron")
        assert "Zorbitron · 필수 · 1회" in zorbitron.inner_text()
        mix = zorbitron.locator(".verdict-mix span").all_inner_texts()
        assert mix == ["충족 1", "일부 충족 0", "찾지 못함 0"], mix
        assert page.locator("#appearances thead th").all_inner_texts() == ["주", "노출", "질문"]
        shot(page, "dashboard-insights-appearances-ko")
    finally:
        ko.close()


def test_an_owner_whose_bot_is_not_discoverable_is_told_how_to_appear(
    system: System, context: Any
) -> None:
    with system.api() as client:
        email, token = _signup(client, "hidden")
        upgraded = client.post(
            "/api/users/me/invite", json={"code": system.invite()}, headers=_bearer(token)
        )
        assert upgraded.status_code == 200, upgraded.text
        slug = f"hidden-{uuid.uuid4().hex[:8]}"
        made = client.post("/api/bots", json={"slug": slug, "name": "Hidden"},
                           headers=_bearer(upgraded.json()["access_token"]))  # fmt: skip
        assert made.status_code == 201, made.text
    page = context.new_page()
    _open_insights(page, system, email)
    assert page.locator("#appearances-summary").inner_text() == (
        "Not shown in any talent search in these days."
    )
    assert page.locator("#appearances-off").is_visible()
    assert "Discoverable by HR search" in page.locator("#appearances-off").inner_text()
    assert page.locator("#appearance-criteria li").all_inner_texts() == ["Nothing yet."]
