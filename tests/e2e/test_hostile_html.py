"""A hostile HTML email in a real browser: nothing in it runs, nothing remote loads until the user
clicks "Show images", and then only the image does."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from webapp.mail.sanitize import SanitizedHtml

pytestmark = pytest.mark.e2e

HOSTILE_BODY = """
<meta http-equiv="refresh" content="0; url=https://evil.example/refresh">
<style>@import url(https://evil.example/x.css); body { background: url(https://evil.example/bg.png) }</style>
<script>window.parent.__pwned = 1; window.__pwned = 1;</script>
<p>Hello <b>team</b>, please find my application below.</p>
<img src="x" onerror="window.parent.__pwned = 2">
<svg onload="window.parent.__pwned = 3"><circle r="4"></circle></svg>
<p><a id="trap" href="javascript:window.parent.__pwned = 4">Open my portfolio</a></p>
<div style="background:url(https://evil.example/div.png)">Kind regards, Eve</div>
<img src="https://evil.example/pixel.png" alt="Eve's photo" width="120" height="40">
"""


@pytest.fixture
def hostile_thread(make) -> tuple[str, int]:
    """A recruiter and one inbound message from a candidate of her job, with a hostile body."""
    job = make.offer("Backend Engineer")
    rita = make.user("Rita Recruiter", offers=[job])
    eve = make.candidate("Eve Hacker", offers=[job])
    message = make.message(candidate=eve, to_users=[rita], subject="My application", body_html=HOSTILE_BODY)
    return rita.email, message.thread_id


def log_in_and_open(page: Page, email: str, thread_id: int) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/mail/inbox$"))
    page.goto(f"/mail/inbox/{thread_id}")


def pwned(page: Page):
    """What any script of the message managed to set, in the page and in the frame itself."""
    frame = page.frame_locator("iframe.html-body")
    in_frame = frame.locator("body").evaluate("() => window.__pwned")
    return page.evaluate("() => window.__pwned"), in_frame


def test_hostile_email_runs_nothing_and_loads_images_only_when_asked(page: Page, hostile_thread, artifacts):
    email, thread_id = hostile_thread
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    log_in_and_open(page, email, thread_id)

    frame_element = page.locator("iframe.html-body")
    expect(frame_element).to_have_count(1)
    sandbox = frame_element.get_attribute("sandbox")
    assert sandbox is not None
    assert "allow-scripts" not in sandbox
    body = page.frame_locator("iframe.html-body").locator("body")
    expect(body).to_contain_text("Hello team, please find my application below.")
    expect(body).to_contain_text("Kind regards, Eve")

    # A click on the javascript: link does nothing either (its href was removed).
    page.frame_locator("iframe.html-body").locator("#trap, a").first.click()
    page.wait_for_timeout(300)  # time for a handler or a refresh to fire, if one had survived
    assert pwned(page) == (None, None)
    assert page.url.endswith(f"/mail/inbox/{thread_id}")
    assert not [url for url in requests if "evil.example" in url]

    bar = page.locator(".images-blocked:has-text('1 remote image blocked.')")
    show = page.get_by_role("button", name="Show images")
    expect(bar).to_be_visible()
    expect(show).to_be_visible()
    page.screenshot(path=artifacts / "hostile-html.png")

    # Offline, the image cannot arrive, but the browser now asks for it (no CSP stops it), and
    # for nothing else.
    with page.expect_event(
        "requestfailed", lambda request: request.url == "https://evil.example/pixel.png"
    ) as failed:
        show.click()
    assert failed.value.failure != "csp"
    expect(show).to_have_count(0)
    expect(page.locator("iframe.html-body")).to_have_count(1)
    expect(page.frame_locator("iframe.html-body").locator("body")).to_contain_text("Kind regards, Eve")
    page.wait_for_timeout(300)
    assert [url for url in requests if "evil.example" in url] == ["https://evil.example/pixel.png"]
    assert "allow-scripts" not in page.locator("iframe.html-body").get_attribute("sandbox")
    assert pwned(page) == (None, None)
    page.screenshot(path=artifacts / "hostile-html-images-shown.png")


def test_the_frame_alone_contains_what_a_sanitiser_miss_would_let_through(
    page: Page, hostile_thread, app, monkeypatch
):
    """Second wall: even with the raw HTML in the frame, the sandbox runs no script and the
    frame's CSP lets no request out (Chromium reports each blocked load as failed by "csp")."""
    monkeypatch.setitem(app.jinja_env.filters, "sanitize_email", lambda html, **kw: SanitizedHtml(html, 0))
    email, thread_id = hostile_thread
    failures: dict[str, str | None] = {}
    page.on("request", lambda request: failures.setdefault(request.url, None))
    page.on("requestfailed", lambda request: failures.__setitem__(request.url, request.failure))
    log_in_and_open(page, email, thread_id)

    expect(page.frame_locator("iframe.html-body").locator("body")).to_contain_text("Kind regards, Eve")
    page.wait_for_timeout(500)
    assert pwned(page) == (None, None)
    assert page.url.endswith(f"/mail/inbox/{thread_id}")
    evil = {url: failure for url, failure in failures.items() if "evil.example" in url}
    assert evil
    assert set(evil.values()) == {"csp"}, evil
