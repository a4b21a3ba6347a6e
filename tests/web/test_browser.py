"""The web surface in real headless Chromium against the whole running system."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.web.conftest import BOT, System, shot

pytestmark = pytest.mark.e2e

ANSWER_DONE = ".msg.bot[data-done='true']"


def answered(scope: Any, nth: int) -> Any:
    """The nth finished answer; fails at once with the page's message if one is shown."""
    done = scope.locator(ANSWER_DONE).nth(nth)
    errors = scope.locator(".msg.error")
    done.or_(errors.last).first.wait_for(timeout=60_000)
    if errors.count():
        pytest.fail(f"the chat page shows an error: {errors.last.inner_text()}")
    done.wait_for()
    return done


def open_widget(page: Any, system: System, url: str | None = None) -> Any:
    """Load a blog page, click the launcher, and return the chat iframe's FrameLocator."""
    page.goto(url or system.url + "/")
    launcher = page.locator("[data-protostar-widget] button")
    launcher.click()
    frame = page.frame_locator("[data-protostar-widget] iframe")
    frame.locator("html[data-ready='true']").wait_for()
    return frame


def ask(frame: Any, question: str, nth: int) -> Any:
    frame.locator("#question").fill(question)
    frame.locator("#question").press("Enter")
    return answered(frame, nth)


# --------------------------------------------------------------------------- demo blog


def test_ask_from_the_demo_blog_streams_an_answer_with_citations(
    chat_api: System, context: Any
) -> None:
    page = context.new_page()
    frame = open_widget(page, chat_api)
    # Record what the answer showed while it was still streaming (aria-busy="true").
    frame.locator("#log").evaluate(
        """log => {
            window.__seen = [];
            new MutationObserver(() => {
                const el = log.querySelector('.msg.bot');
                if (el) window.__seen.push([el.getAttribute('aria-busy'),
                    el.querySelector('.answer-body').textContent.length]);
            }).observe(log, {subtree: true, childList: true, characterData: true,
                             attributes: true});
        }"""
    )
    answer = ask(frame, "Why did he choose RabbitMQ over Kafka?", 0)
    assert len(answer.locator(".answer-body").inner_text().strip()) > 20
    citations = answer.locator(".citation")
    assert citations.count() >= 1
    assert citations.first.locator(".cite-title").inner_text().strip()
    # The snippet expands from its button (keyboard reachable).
    toggle = citations.first.locator("button[aria-controls]")
    toggle.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert citations.first.locator(".snippet").is_visible()
    seen = frame.locator("#log").evaluate("() => window.__seen")
    streamed = [length for busy, length in seen if busy == "true" and length > 0]
    assert streamed, f"no text was shown before the answer finished: {seen[:20]}"
    assert int(answer.get_attribute("data-tokens") or 0) >= 1
    quota = frame.locator("#quota").inner_text()
    assert re.search(r"\b2\b", quota), quota  # a guest's 3 questions, one used
    shot(page, "demo-blog-answer")


def test_feedback_is_stored(chat_api: System, context: Any) -> None:
    page = context.new_page()
    page.goto(f"{chat_api.url}/b/{BOT}")
    page.locator("html[data-ready='true']").wait_for()
    page.locator("#question").fill("Has he run Kubernetes in production?")
    page.locator("#send").click()
    answer = answered(page, 0)
    message_id = answer.get_attribute("data-message-id")
    assert message_id
    answer.locator("button.thumb[data-rating='down']").click()
    answer.locator(".feedback[data-stored='down']").wait_for()
    comment = f"needs more detail {uuid.uuid4().hex[:6]}"
    answer.locator("textarea.comment").fill(comment)
    answer.locator(".comment-form button").click()
    # The note already thanks for the rating, so it cannot say the comment arrived: the
    # database does (the comment replaces the first, rating-only row).
    deadline = time.monotonic() + 10
    rows: list[Any] = []
    while time.monotonic() < deadline:
        query = "SELECT rating, comment FROM feedback WHERE message_id = %s"
        rows = chat_api.sql(query, message_id)
        if rows == [("down", comment)]:
            break
        time.sleep(0.1)
    assert rows == [("down", comment)]
    # The conversation survives a reload: the same turn is shown again.
    page.reload()
    page.locator("html[data-ready='true']").wait_for()
    assert page.locator(".msg.user p").first.inner_text().strip() == (
        "Has he run Kubernetes in production?"
    )
    assert page.locator(".msg.bot .answer-body").first.inner_text().strip()


def test_the_chat_page_fills_the_question_from_q_and_waits_for_send(
    chat_api: System, context: Any
) -> None:
    """?q=... (talent search's "ask this person") fills the box; only the visitor sends."""
    question = "Why did he choose RabbitMQ over Kafka? 카프카 대신 & 50% + more"
    page = context.new_page()
    page.goto(f"{chat_api.url}/b/{BOT}?q={quote(question)}")
    page.locator("html[data-ready='true']").wait_for()
    box = page.locator("#question")
    assert box.input_value() == question
    assert page.evaluate("() => document.activeElement.id") == "question"
    page.wait_for_timeout(500)
    assert page.locator(".msg.user").count() == 0  # nothing was asked
    box.press("Enter")
    answered(page, 0)
    assert page.locator(".msg.user p").first.inner_text() == question
    assert box.input_value() == ""
    # Without ?q= the box starts empty.
    plain = context.new_page()
    plain.goto(f"{chat_api.url}/b/{BOT}")
    plain.locator("html[data-ready='true']").wait_for()
    assert plain.locator("#question").input_value() == ""


def test_a_guests_fourth_question_shows_the_sign_up_path(chat_api: System, context: Any) -> None:
    page = context.new_page()
    page.goto(f"{chat_api.url}/b/{BOT}")
    page.locator("html[data-ready='true']").wait_for()
    for n, question in enumerate(
        ["What is his current role?", "주문 API 지연 시간을 얼마나 줄였나요?", "Where is he based?"]
    ):
        page.locator("#question").fill(question)
        page.locator("#send").click()
        answered(page, n)
    assert page.locator("#limit").is_hidden()
    page.locator("#question").fill("What did he build with pgvector?")
    page.locator("#send").click()
    limit = page.locator("#limit")
    limit.wait_for()
    assert "10" in limit.inner_text()  # what signing up gives
    assert page.locator(ANSWER_DONE).count() == 3
    shot(page, "guest-limit")
    page.locator("#limit-signup").click()
    dialog = page.locator("#account")
    assert dialog.is_visible()
    email = f"visitor-{uuid.uuid4().hex[:8]}@example.com"
    dialog.locator("#signup-form input[name=email]").fill(email)
    dialog.locator("#signup-form input[name=password]").fill("correct horse battery")
    dialog.locator("#signup-form button[type=submit]").click()
    page.locator(".msg.notice").wait_for()
    # Signed up: questions count against the account now (10 a day), and work again.
    page.locator("#question").fill("What did he build with pgvector?")
    page.locator("#send").click()
    answered(page, 3)
    assert re.search(r"\b9\b", page.locator("#quota").inner_text())


# --------------------------------------------------------------------------- Korean


def test_the_korean_ui_renders_hangul(chat_api: System, browser: Any) -> None:
    context = browser.new_context(locale="ko-KR", viewport={"width": 420, "height": 760})
    try:
        page = context.new_page()
        page.goto(f"{chat_api.url}/b/{BOT}")
        page.locator("html[data-ready='true']").wait_for()
        assert page.locator("html").get_attribute("lang") == "ko"
        assert page.locator("#send").inner_text() == "보내기"
        assert (
            page.locator("#question")
            .get_attribute("placeholder", timeout=1000)
            .startswith("이 사람의")
        )
        # Not tofu: each syllable drawn in the page's own font is a distinct, non-empty
        # glyph (missing glyphs all draw the same box), unlike a private-use character.
        glyphs = page.evaluate(
            """() => {
                const font = getComputedStyle(document.querySelector('#send')).font;
                const draw = (ch) => {
                    const c = document.createElement('canvas');
                    c.width = 64; c.height = 64;
                    const g = c.getContext('2d');
                    g.font = font.replace(/\\d+(\\.\\d+)?px/, '40px');
                    g.fillStyle = '#000';
                    g.fillText(ch, 8, 48);
                    const px = g.getImageData(0, 0, 64, 64).data;
                    let ink = 0, sig = '';
                    for (let i = 3; i < px.length; i += 4) { if (px[i] > 128) ink++;
                        sig += px[i] > 128 ? '1' : '0'; }
                    return {ink, sig};
                };
                return ['가', '나', '한', '\\ue000', '\\ue001'].map(draw);
            }"""
        )
        hangul, box = glyphs[:3], glyphs[3:]
        assert all(g["ink"] > 20 for g in hangul), [g["ink"] for g in hangul]
        assert len({g["sig"] for g in hangul}) == 3, "Hangul syllables draw the same box"
        assert box[0]["sig"] == box[1]["sig"], "missing glyphs should all look alike"
        assert all(g["sig"] != box[0]["sig"] for g in hangul), "Hangul renders as tofu"
        page.locator("#question").fill("왜 Kafka 대신 RabbitMQ를 골랐나요?")
        page.locator("#send").click()
        answered(page, 0)
        shot(page, "chat-korean-mobile")
        # Mobile layout: the question box and its button fit the narrow screen.
        box_form = page.locator("#ask").bounding_box()
        assert box_form is not None
        assert box_form["x"] >= 0
        assert box_form["x"] + box_form["width"] <= 420
    finally:
        context.close()


# --------------------------------------------------------------------------- embedding


def test_the_chat_page_refuses_to_render_in_a_frame_of_an_origin_not_allowed(
    system: System, context: Any
) -> None:
    chat = f"{system.url}/b/{BOT}"
    system.pages["/framed.html"] = (
        f'<!doctype html><title>framing</title><iframe id="f" src="{chat}"></iframe>'
    )
    system.pages["/blog.html"] = (
        "<!doctype html><title>blog</title><p>A blog</p>"
        f'<script src="{system.url}/widget.js" data-bot="{BOT}" async></script>'
    )
    port = system.foreign_port
    page = context.new_page()
    # Allowed origin: the page renders inside the frame.
    page.goto(f"http://localhost:{port}/framed.html")
    page.frame_locator("#f").locator("html[data-ready='true']").wait_for()
    # Another origin: the browser refuses to render it (CSP frame-ancestors).
    blocked = context.new_page()
    messages: list[str] = []
    blocked.on("console", lambda msg: messages.append(msg.text))
    blocked.goto(f"http://127.0.0.1:{port}/framed.html")
    blocked.wait_for_timeout(1500)
    child = next(f for f in blocked.frames if f != blocked.main_frame)
    assert not child.url.startswith(system.url), child.url
    assert child.locator("#app").count() == 0
    assert any("frame-ancestors" in m for m in messages), messages
    shot(blocked, "framed-by-other-origin")
    # The widget shows no launcher there either (CORS grants only allowed origins) ...
    widget_blocked = context.new_page()
    widget_blocked.goto(f"http://127.0.0.1:{port}/blog.html")
    widget_blocked.wait_for_timeout(1500)
    assert widget_blocked.locator("[data-protostar-widget]").count() == 0
    # ... and works on the allowed one, touching nothing but its own element.
    allowed = context.new_page()
    allowed.goto(f"http://localhost:{port}/blog.html")
    allowed.evaluate("() => { document.cookie = 'blog=1; path=/'; }")
    own = "() => [...document.body.children].filter(e => !e.dataset.protostarWidget).length"
    before = allowed.evaluate(own)
    frame = open_widget(allowed, system, f"http://localhost:{port}/blog.html")
    assert allowed.evaluate("() => document.cookie") == "blog=1"
    assert allowed.evaluate(own) == before  # the blog's own elements are untouched
    assert allowed.locator("[data-protostar-widget]").count() == 1
    # Escape inside the chat closes it through postMessage; focus returns to the launcher.
    frame.locator("#question").press("Escape")
    allowed.locator("[data-protostar-widget] iframe").wait_for(state="hidden")
    launcher = allowed.locator("[data-protostar-widget] button")
    assert launcher.get_attribute("aria-expanded") == "false"


def test_messages_from_other_origins_are_ignored(system: System, context: Any) -> None:
    """The chat page acts only on messages from the exact parent origin it was given."""
    port = system.foreign_port
    chat = f"{system.url}/b/{BOT}?parent=http://localhost:{port}"
    system.pages["/spoof.html"] = f'<!doctype html><iframe id="f" src="{chat}"></iframe>'
    page = context.new_page()
    page.goto(f"http://localhost:{port}/spoof.html")
    frame = page.frame_locator("#f")
    frame.locator("html[data-ready='true']").wait_for()
    assert frame.locator("html").get_attribute("data-parent") == f"http://localhost:{port}"
    # A parent the bot does not allow is never accepted as a message target.
    page2 = context.new_page()
    page2.goto(f"{system.url}/b/{BOT}?parent=https://evil.example")
    page2.locator("html[data-ready='true']").wait_for()
    assert page2.locator("html").get_attribute("data-parent") == ""


# --------------------------------------------------------------------------- XSS


PAYLOAD_DOC = "\n".join(
    [
        "# <img src=x onerror=\"window.__pwned='title'\"> Payload lab "
        "<script>window.__pwned='t2'</script>",
        "",
        "## <svg onload=\"window.__pwned='section'\"> Zebra section",
        "",
        'The zebra protocol answer is <img src="https://evil.example/pixel.png" '
        "onerror=\"window.__pwned='body'\"> here.",
        "The zebra protocol also says ![tracker](https://evil.example/tracker.png) and "
        "[click me](javascript:window.__pwned='link').",
        "The zebra protocol ends with <script>window.__pwned='script'</script> and "
        '<iframe src="https://evil.example/"></iframe>.',
        "",
    ]
)


def test_xss_payloads_in_answers_and_titles_do_not_run(chat_api: System, context: Any) -> None:
    slug = f"xss-{uuid.uuid4().hex[:8]}"
    with chat_api.api() as client:
        created = client.post(
            "/api/bots",
            json={"slug": slug, "name": "<b onmouseover=alert(1)>XSS lab</b>"},
            headers=chat_api.owner(),
        )
        assert created.status_code == 201, created.text
        uploaded = client.post(
            f"/api/bots/{slug}/documents",
            files={"file": ("zebra.md", PAYLOAD_DOC.encode(), "text/markdown")},
            headers=chat_api.owner(),
        )
        assert uploaded.status_code == 202, uploaded.text
    chat_api.wait_documents_ready(slug)
    remote: list[str] = []
    context.on(
        "request",
        lambda request: (
            remote.append(request.url)
            if not request.url.startswith((chat_api.url, "data:"))
            else None
        ),
    )
    page = context.new_page()
    page.goto(f"{chat_api.url}/b/{slug}")
    page.locator("html[data-ready='true']").wait_for()
    assert page.locator("#bot-name").inner_text() == "<b onmouseover=alert(1)>XSS lab</b>"
    page.locator("#question").fill("What does the zebra protocol say?")
    page.locator("#send").click()
    answer = answered(page, 0)
    for toggle in answer.locator("button[aria-controls]").all():
        toggle.click()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert answer.locator("img, script, iframe").count() == 0
    # The only SVG is our own feedback icons, never inside what the model wrote.
    assert answer.locator(".answer-body svg, .answer-body img").count() == 0
    assert answer.locator("svg").count() == answer.locator(".feedback svg").count()
    for href in answer.locator("a").evaluate_all("links => links.map(a => a.href)"):
        assert href.startswith(("http://", "https://", "mailto:")), href
    shot(page, "xss-answer")
    # The owner's dashboard lists the same hostile title as text.
    dash = context.new_page()
    dashboard_login(dash, chat_api)
    dash.goto(f"{chat_api.url}/dashboard?bot={slug}")
    document_rows(dash)
    dash.wait_for_timeout(300)
    assert dash.evaluate("() => window.__pwned") is None
    assert dash.locator("#doc-rows img, #doc-rows svg, #doc-rows script").count() == 0
    assert not remote, remote


def test_the_markdown_renderer_builds_only_safe_nodes(system: System, context: Any) -> None:
    """render.js directly, with payloads the server-side filter might let through."""
    page = context.new_page()
    page.goto(f"{system.url}/b/{BOT}")
    page.locator("html[data-ready='true']").wait_for()
    result = page.evaluate(
        """async () => {
            const { markdown } = await import('/static/render.js');
            const text = [
              '**bold** <img src=x onerror="window.__pwned=1"> `<script>x</script>`',
              '![t](https://evil.example/a.png) [ok](https://example.com/x)',
              '[bad](javascript:window.__pwned=2)',
              '[data](data:text/html,<script>window.__pwned=3</script>)',
              '<svg/onload=window.__pwned=4>',
              '- item <b>one</b>', '1. first', '```', '<script>window.__pwned=5</script>', '```',
            ].join('\\n');
            const box = document.createElement('div');
            box.append(markdown(text));
            document.body.append(box);
            await new Promise(r => setTimeout(r, 200));
            return {
              pwned: window.__pwned ?? null,
              bad: box.querySelectorAll('img,script,svg,iframe,object').length,
              links: [...box.querySelectorAll('a')].map(a => [a.href, a.rel, a.target]),
              strong: box.querySelector('strong')?.textContent,
              items: box.querySelectorAll('li').length,
              code: box.querySelector('pre code')?.textContent,
              text: box.textContent,
            };
        }"""
    )
    assert result["pwned"] is None
    assert result["bad"] == 0
    assert result["links"] == [["https://example.com/x", "noopener noreferrer", "_blank"]]
    assert result["strong"] == "bold"
    assert result["items"] == 2
    assert result["code"] == "<script>window.__pwned=5</script>"
    assert '<img src=x onerror="window.__pwned=1">' in result["text"]
    assert "evil.example" not in result["text"]  # an image leaves only its alt text


# --------------------------------------------------------------------------- dashboard


def dashboard_login(page: Any, system: System) -> None:
    page.goto(f"{system.url}/dashboard")
    page.locator("#login-form input[name=email]").fill(system.demo["email"])
    page.locator("#login-form input[name=password]").fill(system.demo["password"])
    page.locator("#login-form button[type=submit]").click()
    app = page.locator("#app-view")
    problem = page.locator("#login-error:not(:empty), #error:not(:empty)")
    app.or_(problem).first.wait_for()
    if problem.count():
        pytest.fail(f"dashboard: {problem.first.inner_text()}")


def document_rows(page: Any) -> None:
    rows = page.locator("#doc-rows tr")
    problem = page.locator("#error:not(:empty)")
    try:
        rows.first.or_(problem).first.wait_for()
    except Exception:
        shot(page, "dashboard-no-documents")
        raise
    if problem.count():
        pytest.fail(f"dashboard: {problem.first.inner_text()}")


def test_a_dashboard_upload_shows_progress_then_ready(system: System, context: Any) -> None:
    page = context.new_page()
    dashboard_login(page, system)
    page.locator(f"#bot-list button[data-slug='{BOT}']").wait_for()
    document_rows(page)
    page.evaluate(
        """() => {
            window.__progress = [];
            new MutationObserver(() => {
                for (const p of document.querySelectorAll('#uploads progress'))
                    window.__progress.push(p.value);
            }).observe(document.getElementById('uploads'),
                       {subtree: true, childList: true, attributes: true, characterData: true});
        }"""
    )
    name = f"notes-{uuid.uuid4().hex[:6]}.md"
    body = "# Side projects\n\n" + "\n\n".join(
        f"Project {i}: a small tool written in Go that rotates certificates." for i in range(400)
    )
    page.locator("#file-input").set_input_files(
        {"name": name, "mimeType": "text/markdown", "buffer": body.encode()}
    )
    row = page.locator(f"#uploads li[data-name='{name}']")
    row.locator("progress").wait_for()
    row.locator("[data-status='ready']").wait_for(timeout=120_000)
    assert row.get_attribute("data-status") == "ready"
    progress = page.evaluate("() => window.__progress")
    assert progress, "no progress bar was shown"
    assert max(progress) == 100, progress
    assert page.locator(f"#doc-rows tr:has-text('{name}') .badge[data-status='ready']").count()
    shot(page, "dashboard-documents")
    # The other panels render for the demo bot.
    page.locator("#tabs [data-panel='embed']").click()
    snippet = page.locator("#snippet").input_value()
    assert snippet == f'<script src="{system.url}/widget.js" data-bot="{BOT}" async></script>'
    page.locator("#tabs [data-panel='settings']").click()
    assert page.locator("#settings-form input[name=name]").input_value()
    shot(page, "dashboard-settings")
    page.locator("#tabs [data-panel='invites']").click()
    page.locator("#issue-invite").click()
    code = page.locator(".invite-code").inner_text()
    assert re.fullmatch(r"PS-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)


def test_the_owner_tests_the_bot_in_the_dashboard(system: System, context: Any) -> None:
    """The "Test your bot" tab: questions in, per question answered or refused, the
    cited passages and why, in words; in Korean with ?lang=ko."""
    page = context.new_page()
    dashboard_login(page, system)
    page.locator(f"#bot-list button[data-slug='{BOT}']").wait_for()
    tab = page.locator("#tabs [data-panel='test']")
    tab.click()
    assert tab.get_attribute("aria-selected") == "true"
    assert not page.locator("#panel-test").is_hidden()
    page.locator("#test-questions").fill(
        "Why did he choose RabbitMQ over Kafka?\n\nHas he written production code in Rust?\n"
    )
    page.locator("#test-form button[type=submit]").click()
    results = page.locator("#test-results li.test-result")
    problem = page.locator("#error:not(:empty)")
    results.nth(1).or_(problem).first.wait_for(timeout=60_000)
    if problem.count():
        pytest.fail(f"dashboard: {problem.first.inner_text()}")
    assert results.count() == 2  # the blank line is no question
    answered, refused = results.nth(0), results.nth(1)
    assert answered.get_attribute("data-answerable") == "true"
    assert "RabbitMQ" in answered.locator(".a").inner_text()
    assert answered.locator(".sources li").count() >= 1
    assert answered.locator(".why li").first.inner_text().startswith("Answered")
    assert refused.get_attribute("data-answerable") == "false"
    assert refused.locator(".sources li").count() == 0
    assert "rust" in refused.locator(".why").inner_text()
    shot(page, "dashboard-test-your-bot")
    # The Korean UI labels the tab and the verdicts in Korean.
    page.goto(f"{system.url}/dashboard?lang=ko")
    page.locator("#tabs [data-panel='test']").click()
    assert page.locator("#tabs [data-panel='test']").inner_text() == "봇 테스트"
    page.locator("#test-questions").fill("쿠버네티스를 운영해 본 경험이 있나요?")
    page.locator("#test-form button[type=submit]").click()
    result = page.locator("#test-results li.test-result").first
    result.wait_for(timeout=60_000)
    assert result.locator(".badge").inner_text() in ("답변함", "답변 안 함")
    assert result.locator(".why li").first.inner_text().startswith(("답변함", "답변하지 않음"))


# --------------------------------------------------------------------------- onboarding

PASSWORD = "Onboard-pass-2024"
# What the dashboard says, per UI language (web/static/i18n.js): the tests read the page
# as a user does, so a wrong string or language fails them.
SAYS = {
    "en": {
        "invite_done": (
            "You are a protostar now: unlimited questions, and your own bot in the dashboard."
        ),
        "welcome": "Welcome! Your account is ready.",
        "forgot_sent": (
            "If an account exists for that address, a mail with a reset link is on its way. "
            "The link works once, for a short time."
        ),
        "invite_used": "This invite code was already used.",
        "invite_required": "Invite code: please fill this in.",
        "wrong_login": "The email or password is wrong.",
        "passwords_differ": "The two passwords are not the same.",
    },
    "ko": {
        "invite_done": (
            "프로토스타가 되었어요: 질문 무제한, 대시보드에서 나만의 봇을 만들 수 있어요."
        ),
        "invite_unknown": (
            "계정은 만들어졌지만 초대 코드를 쓰지 못했어요: "
            "없는 초대 코드예요. 확인하고 다시 시도해 주세요."
        ),
        "reset_used": "만료되었거나 이미 사용된 재설정 링크예요. 새 링크를 요청하세요.",
        "forgot_title": "비밀번호 재설정",
    },
}


def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def korean(browser: Any) -> Any:
    ctx = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 860})
    ctx.set_default_timeout(30_000)
    return ctx


def screenshot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def user(system: System, email: str) -> tuple[str, str]:
    """(id, role) of the account with this email, as stored."""
    rows = system.sql("SELECT id::text, role FROM users WHERE email = %s", email)
    assert len(rows) == 1, rows
    return rows[0][0], rows[0][1]


def redeemed_by(system: System, user_id: str) -> int:
    return len(system.sql("SELECT 1 FROM invites WHERE redeemed_by = %s", user_id))


def focused(page: Any) -> str:
    """The focused element as 'form-id/name' (or its id)."""
    return str(
        page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.form ? `${e.form.id}/${e.name}` : e.id; }"
        )
    )


def landed(page: Any, view: str) -> None:
    """Wait for a dashboard view, failing at once with any error the page shows."""
    problem = page.locator("[role=alert]:not(:empty):visible")
    page.locator(f"#{view}").or_(problem).first.wait_for()
    if problem.count():
        pytest.fail(f"dashboard: {problem.first.inner_text()}")


def test_sign_up_with_an_invite_code_makes_a_protostar_who_creates_a_bot(
    system: System, browser: Any, tmp_path: Path
) -> None:
    context = korean(browser)
    try:
        page = context.new_page()
        page.goto(f"{system.url}/dashboard")
        assert page.locator("html").get_attribute("lang") == "ko"
        page.locator("#pane-login").get_by_role("button", name="계정 만들기").click()
        assert focused(page) == "signup-form/email"
        form = page.locator("#signup-form")
        email = new_email("invited")
        form.get_by_label("이메일", exact=True).fill(email)
        form.get_by_label("비밀번호", exact=True).fill(PASSWORD)
        form.get_by_label("이름 (선택)", exact=True).fill("한서진")
        form.get_by_label("초대 코드 (선택)", exact=True).fill(system.invite())
        form.get_by_role("button", name="계정 만들기").click()
        landed(page, "app-view")
        assert page.locator("#notice").inner_text() == SAYS["ko"]["invite_done"]
        assert page.locator("#me").inner_text() == "한서진"
        user_id, role = user(system, email)
        assert role == "protostar"
        assert redeemed_by(system, user_id) == 1
        # The session kept is the redeem's (a protostar's), not the sign-up's.
        stored = page.evaluate("() => JSON.parse(localStorage.getItem('protostar:session'))")
        assert stored["user"]["role"] == "protostar"
        # No bot yet: the new-bot form is open, and creating one works.
        assert page.locator("#new-bot").get_attribute("open") is not None
        slug = f"onboard-{uuid.uuid4().hex[:8]}"
        page.locator("#new-bot-form input[name=name]").fill("한서진의 커리어")
        page.locator("#new-bot-form input[name=slug]").fill(slug)
        page.locator("#new-bot-form button[type=submit]").click()
        created = page.locator(f"#bot-list button[data-slug='{slug}']")
        refused = page.locator("#new-bot-error:not(:empty), #error:not(:empty)")
        created.or_(refused).first.wait_for()
        assert not refused.count(), refused.first.inner_text()
        assert page.locator("#bot-title").inner_text() == "한서진의 커리어"
        owners = system.sql("SELECT owner_id::text FROM bots WHERE slug = %s", slug)
        assert owners == [(user_id,)]
        screenshot(page, tmp_path, "signup-with-invite-ko")
    finally:
        context.close()


def test_a_stargazer_signs_up_without_a_code_then_redeems_one(
    system: System, context: Any, tmp_path: Path
) -> None:
    page = context.new_page()
    page.goto(f"{system.url}/dashboard?view=signup")
    assert focused(page) == "signup-form/email"
    form = page.locator("#signup-form")
    email = new_email("stargazer")
    form.get_by_label("Email", exact=True).fill(email)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Name (optional)", exact=True).fill("Ada Stargazer")
    form.get_by_label("Name (optional)", exact=True).press("Enter")  # the keyboard submits
    landed(page, "not-protostar")
    assert page.locator("#welcome").inner_text() == SAYS["en"]["welcome"]
    assert page.locator("#me").inner_text() == "Ada Stargazer"
    assert focused(page) == "redeem-form/code"
    user_id, role = user(system, email)
    assert role == "stargazer"
    screenshot(page, tmp_path, "stargazer-en")
    code_field = page.locator("#redeem-form").get_by_label("Invite code", exact=True)
    code_field.fill(system.invite())
    code_field.press("Enter")
    landed(page, "app-view")
    assert page.locator("#notice").inner_text() == SAYS["en"]["invite_done"]
    assert user(system, email)[1] == "protostar"
    assert redeemed_by(system, user_id) == 1
    # A reload stays a protostar: the redeem's session replaced the stargazer's.
    page.reload()
    landed(page, "app-view")
    assert page.locator("#new-bot").get_attribute("open") is not None
    screenshot(page, tmp_path, "redeemed-en")


def test_forgot_password_then_the_reset_link_sets_a_new_one_once(
    system: System, context: Any, browser: Any, tmp_path: Path
) -> None:
    email = new_email("forgetful")
    old, new = "Old-password-2024", "New-password-2025"
    with system.api() as client:
        created = client.post(
            "/api/auth/signup",
            json={"email": email, "password": old, "display_name": "Reset Tester"},
        )
        assert created.status_code == 201, created.text
    user_id = created.json()["user"]["id"]
    page = context.new_page()
    page.goto(f"{system.url}/dashboard")
    page.locator("#login-form input[name=email]").fill(email)
    forgot = page.get_by_role("button", name="Forgot your password?")
    forgot.focus()
    forgot.press("Enter")
    assert focused(page) == "forgot-form/email"
    assert page.locator("#forgot-form input[name=email]").input_value() == email
    page.get_by_role("button", name="Send the link").press("Enter")
    page.locator("#forgot-status:not(:empty)").wait_for()
    assert page.locator("#forgot-status").inner_text() == SAYS["en"]["forgot_sent"]
    screenshot(page, tmp_path, "forgot-sent-en")
    link = system.wait_reset_link(user_id)
    assert link.startswith(f"{system.url}/reset#token=")

    page.goto(link)
    page.locator("#reset-view").wait_for()
    # The token left the address bar at once.
    assert page.evaluate("() => location.hash") == ""
    assert page.url == f"{system.url}/reset"
    form = page.locator("#reset-form")
    form.get_by_label("New password", exact=True).fill(new)
    form.get_by_label("New password, again", exact=True).fill(new + "x")
    form.get_by_role("button", name="Change the password").click()
    assert page.locator("#reset-error").inner_text() == SAYS["en"]["passwords_differ"]
    assert focused(page) == "reset-form/repeat"
    unused = system.sql("SELECT used_at FROM password_resets WHERE user_id = %s", user_id)
    assert unused == [(None,)]  # nothing was sent
    form.get_by_label("New password, again", exact=True).fill(new)
    screenshot(page, tmp_path, "reset-form-en")
    form.get_by_label("New password, again", exact=True).press("Enter")
    page.wait_for_url(f"{system.url}/dashboard")
    landed(page, "not-protostar")  # signed in, as the stargazer it is
    assert page.locator("#me").inner_text() == "Reset Tester"
    used = system.sql("SELECT used_at FROM password_resets WHERE user_id = %s", user_id)
    assert len(used) == 1
    assert used[0][0] is not None
    with system.api() as client:
        stale = client.post("/api/auth/login", json={"email": email, "password": old})
        assert stale.status_code == 401
        assert stale.json()["error"]["code"] == "invalid_credentials"
        fresh = client.post("/api/auth/login", json={"email": email, "password": new})
        assert fresh.status_code == 200, fresh.text
    screenshot(page, tmp_path, "reset-signed-in-en")

    # The same link a second time, in Korean: expired or used, and a way to ask again.
    ko = korean(browser)
    try:
        again = ko.new_page()
        again.goto(link)
        form = again.locator("#reset-form")
        form.get_by_label("새 비밀번호", exact=True).fill("Another-password-99")
        form.get_by_label("새 비밀번호 확인", exact=True).fill("Another-password-99")
        form.get_by_role("button", name="비밀번호 바꾸기").click()
        again.locator("#reset-dead").wait_for()
        assert again.locator("#reset-dead-text").inner_text() == SAYS["ko"]["reset_used"]
        assert again.locator("#reset-view").is_hidden()
        assert focused(again) == "ask-again"
        screenshot(again, tmp_path, "reset-used-ko")
        again.locator("#ask-again").press("Enter")
        again.locator("#pane-forgot").wait_for()
        assert again.locator("#forgot-title").inner_text() == SAYS["ko"]["forgot_title"]
        assert focused(again) == "forgot-form/email"
    finally:
        ko.close()
    with system.api() as client:  # the second use changed nothing
        refused = client.post(
            "/api/auth/login", json={"email": email, "password": "Another-password-99"}
        )
        assert refused.status_code == 401
        assert (
            client.post("/api/auth/login", json={"email": email, "password": new}).status_code
            == 200
        )


def test_a_wrong_invite_code_is_told_by_its_code_in_the_ui_language(
    system: System, browser: Any, context: Any, tmp_path: Path
) -> None:
    # Korean: sign-up with a code nobody issued leaves a signed-in stargazer, told why.
    ko = korean(browser)
    try:
        page = ko.new_page()
        page.goto(f"{system.url}/dashboard?view=signup")
        form = page.locator("#signup-form")
        email = new_email("unknown-code")
        form.get_by_label("이메일", exact=True).fill(email)
        form.get_by_label("비밀번호", exact=True).fill(PASSWORD)
        form.get_by_label("초대 코드 (선택)", exact=True).fill("PS-AAAA-BBBB-CCCC")
        form.get_by_role("button", name="계정 만들기").click()
        page.locator("#not-protostar").wait_for()
        assert page.locator("#redeem-error").inner_text() == SAYS["ko"]["invite_unknown"]
        assert page.locator("#redeem-form input[name=code]").input_value() == "PS-AAAA-BBBB-CCCC"
        user_id, role = user(system, email)
        assert role == "stargazer"
        assert redeemed_by(system, user_id) == 0
        screenshot(page, tmp_path, "invite-unknown-ko")
    finally:
        ko.close()

    # English: a code someone else already used, for a stargazer who logs in.
    email = new_email("late")
    used = system.invite()
    with system.api() as client:
        assert (
            client.post("/api/auth/signup", json={"email": email, "password": PASSWORD}).status_code
            == 201
        )
        first = client.post(
            "/api/auth/signup", json={"email": new_email("first"), "password": PASSWORD}
        )
        token = first.json()["access_token"]
        taken = client.post(
            "/api/users/me/invite",
            json={"code": used},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert taken.status_code == 200, taken.text
    page = context.new_page()
    page.goto(f"{system.url}/dashboard")
    page.locator("#login-form input[name=email]").fill(email)
    page.locator("#login-form input[name=password]").fill(PASSWORD + "-wrong")
    page.locator("#login-form button[type=submit]").click()
    page.locator("#login-error:not(:empty)").wait_for()
    assert page.locator("#login-error").inner_text() == SAYS["en"]["wrong_login"]
    page.locator("#login-form input[name=password]").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    landed(page, "not-protostar")
    redeem = page.locator("#redeem-form")
    redeem.get_by_role("button", name="Redeem").click()  # empty: told before any call
    assert page.locator("#redeem-error").inner_text() == SAYS["en"]["invite_required"]
    redeem.get_by_label("Invite code", exact=True).fill(used)
    redeem.get_by_role("button", name="Redeem").click()
    page.locator("#redeem-error:not(:empty)").wait_for()
    assert page.locator("#redeem-error").inner_text() == SAYS["en"]["invite_used"]
    assert page.locator("#not-protostar").is_visible()
    assert user(system, email)[1] == "stargazer"
    screenshot(page, tmp_path, "invite-used-en")


# --------------------------------------------------------------------------- account page

ACCOUNT_SAYS = {
    "en": {
        "wrong_password": "The current password is wrong.",
        "password_changed": "The password is changed. Every other session is signed out.",
        "signed_out_everywhere": "You are signed out on every device.",
        "email_differs": "Type the email of this account exactly, to confirm.",
        "deleted": "Your account and everything it owned are deleted.",
        "wrong_login": "The email or password is wrong.",
    },
    "ko": {"export_done": "다운로드를 시작했어요."},
}


def account_user(system: System, tag: str, name: str) -> tuple[str, str]:
    """A new stargazer made through the API: (email, user id)."""
    email = new_email(tag)
    with system.api() as client:
        created = client.post(
            "/api/auth/signup", json={"email": email, "password": PASSWORD, "display_name": name}
        )
        assert created.status_code == 201, created.text
    return email, created.json()["user"]["id"]


def sign_in(page: Any, system: System, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{system.url}/dashboard")
    page.locator("#login-form input[name=email]").fill(email)
    page.locator("#login-form input[name=password]").fill(password)
    page.locator("#login-form button[type=submit]").click()
    landed(page, "not-protostar")


def open_account(page: Any) -> None:
    button = page.locator("#account-open")
    button.focus()
    button.press("Enter")  # the keyboard reaches it
    page.locator("#account-view").wait_for()
    assert focused(page) == "account-title"


def stored_session(page: Any) -> dict[str, Any]:
    value: dict[str, Any] = page.evaluate(
        "() => JSON.parse(localStorage.getItem('protostar:session'))"
    )
    return value


def refreshed(system: System, token: str) -> int:
    with system.api() as client:
        return client.post("/api/auth/refresh", json={"refresh_token": token}).status_code


def test_a_password_change_signs_out_the_other_session_then_sign_out_everywhere(
    system: System, browser: Any, context: Any
) -> None:
    email, _ = account_user(system, "changer", "Pat Changer")
    new = "Changed-pass-2025"
    page = context.new_page()
    sign_in(page, system, email)
    other_context = browser.new_context(locale="en-US")
    try:
        other = other_context.new_page()
        sign_in(other, system, email)
        before = stored_session(other)
        open_account(page)
        form = page.locator("#password-form")
        form.get_by_label("Current password", exact=True).fill("not-my-password-1")
        form.get_by_label("New password", exact=True).fill(new)
        form.get_by_label("New password, again", exact=True).fill(new)
        form.get_by_role("button", name="Change the password").click()
        page.locator("#password-error:not(:empty)").wait_for()
        assert page.locator("#password-error").inner_text() == ACCOUNT_SAYS["en"]["wrong_password"]
        form.get_by_label("Current password", exact=True).fill(PASSWORD)
        form.get_by_label("New password, again", exact=True).press("Enter")
        page.locator("#password-status:not(:empty)").wait_for()
        assert (
            page.locator("#password-status").inner_text()
            == (ACCOUNT_SAYS["en"]["password_changed"])
        )
        assert page.locator("#password-error").inner_text() == ""
        mine = stored_session(page)
        assert refreshed(system, mine["refresh_token"]) == 200  # this device stays signed in
        # The other browser's session is over: its refresh token is refused, and once its
        # access token has run out (forced here) a reload lands on the signed-out screen.
        assert refreshed(system, before["refresh_token"]) == 401
        other.evaluate(
            "() => { const s = JSON.parse(localStorage.getItem('protostar:session'));"
            " s.access_token = 'expired'; localStorage.setItem('protostar:session',"
            " JSON.stringify(s)); }"
        )
        other.reload()
        other.locator("#login-view").wait_for()
        assert other.evaluate("() => localStorage.getItem('protostar:session')") is None
    finally:
        other_context.close()
    with system.api() as client:
        assert (
            client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).status_code
            == 401
        )
    # Sign out everywhere: this device too, told on the signed-out screen.
    page.reload()
    landed(page, "not-protostar")
    open_account(page)
    current = stored_session(page)
    page.get_by_role("button", name="Sign out everywhere").click()
    page.locator("#login-view").wait_for()
    assert page.locator("#signed-out").inner_text() == ACCOUNT_SAYS["en"]["signed_out_everywhere"]
    assert refreshed(system, current["refresh_token"]) == 401
    shot(page, "account-signed-out-everywhere-en")


def test_the_export_downloads_a_json_file_with_the_users_data_in_korean(
    system: System, browser: Any
) -> None:
    email, user_id = account_user(system, "exporter", "김내보내기")
    context = korean(browser)
    try:
        page = context.new_page()
        sign_in(page, system, email)
        open_account(page)
        assert page.locator("#account-title").inner_text() == "내 계정"
        assert page.locator("#account-email").inner_text() == email
        with page.expect_download() as download_info:
            page.get_by_role("button", name="내 데이터 받기 (JSON)").click()
        download = download_info.value
        assert download.suggested_filename.startswith("protostar-export-")
        assert download.suggested_filename.endswith(".json")
        data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
        assert data["user"]["email"] == email
        assert data["user"]["id"] == user_id
        assert data["user"]["display_name"] == "김내보내기"
        page.locator("#export-status:not(:empty)").wait_for()
        assert page.locator("#export-status").inner_text() == ACCOUNT_SAYS["ko"]["export_done"]
        shot(page, "account-export-ko")
    finally:
        context.close()


def test_deleting_the_account_asks_the_password_and_the_email_then_signs_out(
    system: System, context: Any
) -> None:
    email, user_id = account_user(system, "leaver", "Lee Leaver")
    page = context.new_page()
    sign_in(page, system, email)
    open_account(page)
    form = page.locator("#delete-form")
    form.get_by_label("Current password", exact=True).fill(PASSWORD)
    form.get_by_label("Type your email to confirm", exact=True).fill("someone@example.com")
    form.get_by_role("button", name="Delete my account").click()
    assert page.locator("#delete-error").inner_text() == ACCOUNT_SAYS["en"]["email_differs"]
    assert focused(page) == "delete-form/confirm_email"
    form.get_by_label("Current password", exact=True).fill("not-my-password-1")
    form.get_by_label("Type your email to confirm", exact=True).fill(email.upper())
    form.get_by_role("button", name="Delete my account").click()
    page.locator("#delete-error:not(:empty)").wait_for()
    assert page.locator("#delete-error").inner_text() == ACCOUNT_SAYS["en"]["wrong_password"]
    assert system.sql("SELECT count(*) FROM users WHERE id = %s", user_id) == [(1,)]
    form.get_by_label("Current password", exact=True).fill(PASSWORD)
    form.get_by_label("Type your email to confirm", exact=True).press("Enter")
    page.locator("#login-view").wait_for()
    assert page.locator("#signed-out").inner_text() == ACCOUNT_SAYS["en"]["deleted"]
    assert page.evaluate("() => localStorage.getItem('protostar:session')") is None
    assert system.sql("SELECT count(*) FROM users WHERE id = %s", user_id) == [(0,)]
    # The old credentials no longer sign in.
    page.locator("#login-form input[name=email]").fill(email)
    page.locator("#login-form input[name=password]").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.locator("#login-error:not(:empty)").wait_for()
    assert page.locator("#login-error").inner_text() == ACCOUNT_SAYS["en"]["wrong_login"]
    shot(page, "account-deleted-en")
