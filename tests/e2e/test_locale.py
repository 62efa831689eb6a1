"""Words and dates: the French UI says "1 non lu" and "Vous suivez Léa", its buttons stay on one line;
a row and its message header give the date in the same words; the candidate timeline wraps and
clips nothing; the keyboard cursor is easy to see. At a phone's and a desktop's width."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_keyboard import ready
from tests.e2e.test_layout import LEA_SUBJECT, VIEWPORTS, assert_fits, lea_row, log_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e


def wrapped_buttons(page: Page, selector: str) -> list[str]:
    """Buttons whose label runs over more than one line."""
    return page.locator(selector).evaluate_all(
        """buttons => buttons.filter(b => b.offsetParent !== null).filter(b => {
             const line = parseFloat(getComputedStyle(b).lineHeight) || 20;
             return b.getBoundingClientRect().height > line * 1.6 + 16;
           }).map(b => b.textContent.trim())"""
    )


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_french_words_plurals_and_buttons(demo, new_page, artifacts, size):
    page, log = new_page(viewport=VIEWPORTS[size], locale="fr-FR")
    log_in(page, "rita@demo.test")
    unread = page.locator("#list-unread")
    expect(unread).to_have_text(re.compile(r"^\d+ non lus?$"))
    count = int(unread.inner_text().split()[0])
    expect(unread).to_have_text(f"{count} non lu" if count == 1 else f"{count} non lus")

    page.goto("/mail/candidates")
    lea_row(page).locator("a.row-link").click()
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    toolbar = page.locator("#message-pane .thread-toolbar")
    expect(toolbar).to_contain_text("Vous suivez Léa")
    assert (
        wrapped_buttons(page, "#message-pane .thread-toolbar .button, #message-list .list-head .button") == []
    )
    assert wrapped_buttons(page, "#message-pane .message-actions .button") == []
    assert_fits(page)
    page.screenshot(path=str(artifacts / f"french-{size}-conversation.png"))

    # Marking it unread: the list says "1 non lu" more, in the singular when it is the only one.
    page.click("#message-pane [data-key=unread]")
    expect(page.locator("#feedback-toast")).to_contain_text("Marquée comme non lue.")
    assert log.problems == []


@pytest.mark.parametrize(("size", "locale"), [("phone", "fr-FR"), ("desktop", "en-US")])
def test_a_row_and_its_message_header_give_the_same_date(demo, new_page, size, locale):
    page, log = new_page(viewport=VIEWPORTS[size], locale=locale)
    log_in(page, "rita@demo.test")
    page.goto("/mail/candidates")
    ready(page)
    rows = page.locator("#message-list li.row")
    for index in range(4):  # today's (a time) and older ones (day and month)
        row = rows.nth(index)
        if "To:" in row.locator(".row-from").inner_text() or "À" in row.locator(".row-from").inner_text():
            continue  # a sent row dates the conversation, not necessarily its newest message
        listed = row.locator(".row-date").inner_text().strip()
        row.locator("a.row-link").click()
        expect(page.locator("#message-pane")).to_have_attribute(
            "data-thread", row.get_attribute("data-thread")
        )
        newest = page.locator("#message-pane .message-date").last.inner_text()
        assert listed in newest, (listed, newest)
        if size == "phone":
            page.click("#message-pane .back-link")
            expect(page.locator("#message-list")).to_be_visible()
    assert log.problems == []


@pytest.fixture
def long_timeline(make):
    """A candidate whose mail has a very long address, subject and unbroken snippet."""
    job = make.offer("Backend")
    rita = make.user("Rita Recruiter", offers=[job])
    long_name = "Maximiliana-Konstantina Vandenberghe-Oppenheimer"
    cand = make.candidate(
        long_name, offers=[job], emails=["maximiliana.konstantina.vandenberghe@example.org"]
    )
    # The snippet repeats the subject: an unbroken 90-letter word, then many words.
    thread = make.thread("A" * 90 + " " + "very long subject line " * 6, candidate=cand, offer=job)
    make.message(thread, candidate=cand, to_users=[rita])
    make.message(thread, direction="outbound", candidate=cand, sender=rita)
    return rita.email, cand.id


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_candidate_timeline_wraps_and_clips_nothing(long_timeline, new_page, artifacts, size):
    email, candidate_id = long_timeline
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, email, PASSWORD)
    page.goto(f"/candidates/{candidate_id}")
    entries = page.locator(".timeline li")
    expect(entries).to_have_count(2)
    assert_fits(page)
    clipped = page.locator(
        ".timeline .row-date, .timeline .row-from, .timeline .row-snippet, .timeline a"
    ).evaluate_all(
        """els => els.filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
                   .map(e => e.className || e.tagName)"""
    )
    assert clipped == []
    # The date is on screen whole, inside its entry.
    for i in range(2):
        date = entries.nth(i).locator(".row-date").bounding_box()
        box = entries.nth(i).bounding_box()
        assert date["x"] >= box["x"]
        assert date["x"] + date["width"] <= box["x"] + box["width"]
    page.screenshot(path=str(artifacts / f"timeline-{size}.png"), full_page=True)
    assert log.problems == []


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_keyboard_cursor_is_clearly_visible(demo, new_page, artifacts, size):
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, "rita@demo.test")
    ready(page)
    page.keyboard.press("j")
    page.keyboard.press("j")
    cursor = page.locator("#message-list li.row.is-cursor a.row-link")
    expect(cursor).to_have_count(1)
    style = cursor.evaluate(
        "a => { const s = getComputedStyle(a); return [s.boxShadow, s.backgroundColor]; }"
    )
    plain = page.locator("#message-list li.row:not(.is-cursor) a.row-link").first.evaluate(
        "a => getComputedStyle(a).backgroundColor"
    )
    assert "inset" in style[0]
    assert "rgb(47, 91, 211)" in style[0]  # the accent colour, a 2 px ring and a 4 px bar
    assert style[1] != plain
    page.screenshot(path=str(artifacts / f"cursor-{size}.png"))
    assert log.problems == []
