"""Keyboard triage in a real browser: j, j, e archives the second conversation, counts follow."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browse import log_in, marker, set_marker, unread_count

pytestmark = pytest.mark.e2e
CURSOR = re.compile(r"\bis-cursor\b")
UNREAD = re.compile(r"\bis-unread\b")


def ready(page) -> None:
    """Scripts loaded (keyboard.js is deferred) and htmx up, before any key is pressed."""
    page.wait_for_load_state("load")
    page.wait_for_function("window.htmx !== undefined")


def eventually(check, timeout: float = 5.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_j_j_e_archives_the_second_conversation(page, browser_log, demo, artifacts):
    log_in(page, "rita@demo.test")
    ready(page)
    rows = page.locator("#message-list li.row")
    second_id = rows.nth(1).get_attribute("id")
    was_unread = bool(UNREAD.search(rows.nth(1).get_attribute("class") or ""))
    before = unread_count(page, "inbox")
    set_marker(page)

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(CURSOR)
    page.keyboard.press("j")
    expect(page.locator(f"#{second_id}")).to_have_class(CURSOR)
    page.keyboard.press("e")

    expect(page.locator(f"#{second_id}")).to_have_count(0)
    expected = before - 1 if was_unread else before
    assert eventually(lambda: unread_count(page, "inbox") == expected)
    assert marker(page) == 1  # no page reload happened
    page.screenshot(path=str(artifacts / "keyboard-triage.png"))

    # Archived for the team: the Archived folder lists it now.
    page.locator('#folder-nav a.folder-link[data-folder="archived"]').click()
    expect(page.locator(f"#{second_id}")).to_have_count(1)
    assert browser_log.problems == []


def test_question_mark_shows_help_and_u_toggles_unread(page, browser_log, demo):
    log_in(page, "rita@demo.test")
    ready(page)
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    first = page.locator("#message-list li.row").first
    first_id = first.get_attribute("id")
    was_unread = bool(UNREAD.search(first.get_attribute("class") or ""))
    before = unread_count(page, "inbox")
    page.keyboard.press("j")
    page.keyboard.press("u")
    row = page.locator(f"#{first_id}")
    if was_unread:
        expect(row).not_to_have_class(UNREAD)
        assert eventually(lambda: unread_count(page, "inbox") == before - 1)
    else:
        expect(row).to_have_class(UNREAD)
        assert eventually(lambda: unread_count(page, "inbox") == before + 1)
    assert browser_log.problems == []


def test_u_keeps_the_cursor_on_its_row(page, browser_log, demo):
    log_in(page, "rita@demo.test")
    ready(page)
    rows = page.locator("#message-list li.row")
    second_id = rows.nth(1).get_attribute("id")
    page.keyboard.press("j")
    page.keyboard.press("j")
    row = page.locator(f"#{second_id}")
    expect(row).to_have_class(CURSOR)
    was_unread = bool(UNREAD.search(row.get_attribute("class") or ""))
    page.keyboard.press("u")
    expect(row).to_have_class(UNREAD if not was_unread else re.compile(r"^(?!.*\bis-unread\b)"))
    expect(row).to_have_class(CURSOR)  # the swapped row keeps the cursor...
    expect(row.locator(".row-link")).to_be_focused()  # ...and the focus
    page.keyboard.press("j")  # so the next key goes on from there
    expect(rows.nth(2)).to_have_class(CURSOR)
    assert browser_log.problems == []


def test_r_puts_the_cursor_in_the_message_body(page, browser_log, demo, artifacts):
    log_in(page, "rita@demo.test")
    ready(page)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#message-pane [data-key=reply]").last).to_be_visible()
    page.evaluate("document.activeElement && document.activeElement.blur()")  # as after reading
    page.keyboard.press("r")
    body = page.locator("#message-pane textarea[name=body]")
    expect(body).to_be_focused()
    assert page.evaluate("document.activeElement.selectionStart") == 0  # above the signature and quote
    page.keyboard.type("Thanks, ")
    expect(body).to_have_value(re.compile(r"^Thanks, "))
    page.screenshot(path=str(artifacts / "keyboard-reply.png"))
    assert browser_log.problems == []


def test_r_right_after_enter_answers_the_conversation_being_opened(page, browser_log, demo):
    log_in(page, "rita@demo.test")
    ready(page)
    # A slow connection: the conversation arrives late, and htmx wires its buttons 0.3 s after
    # it lands. `r` pressed meanwhile must wait for it, not answer the pane being replaced.
    page.evaluate("htmx.config.defaultSettleDelay = 300")
    page.route(re.compile(r"/mail/inbox/\d+$"), lambda route: (time.sleep(0.3), route.continue_()))
    rows = page.locator("#message-list li.row")
    subject = rows.nth(1).locator(".row-subject").inner_text()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.keyboard.press("r")
    body = page.locator("#message-pane textarea[name=body]")
    expect(body).to_be_focused()
    expect(page.locator("#message-pane .thread-meta")).to_contain_text(subject)
    assert browser_log.problems == []
