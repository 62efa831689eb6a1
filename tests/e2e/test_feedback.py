"""Saying what happened: a failed request (server error, network down, timeout) shows a message the
user can dismiss and leaves the page and what was typed as they were; an action that worked
shows a short toast, with Undo where there is one. At a phone's and a desktop's width."""

import contextlib
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import open_lea
from tests.e2e.test_keyboard import ready
from tests.e2e.test_layout import LEA_SUBJECT, VIEWPORTS, lea_row, log_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_archive_says_so_and_undo_brings_it_back(demo, new_page, artifacts, size):
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, "rita@demo.test")
    thread_id = open_lea(page, "inbox")
    page.click("#message-pane [data-key=archive]")
    toast = page.locator("#feedback-toast")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("Archived.")
    expect(page.locator(f"#thread-row-{thread_id}")).to_have_count(0)
    expect(page.locator("#message-pane .thread-meta")).to_contain_text("Archived")
    page.screenshot(path=str(artifacts / f"feedback-{size}-archived.png"))

    toast.get_by_role("button", name="Undo").click()
    expect(toast).to_be_hidden()
    expect(page.locator(f"#thread-row-{thread_id}")).to_have_count(1)
    expect(page.locator("#message-pane .thread-meta")).not_to_contain_text("Archived")
    expect(page.locator("#message-pane [data-key=archive]")).to_have_text("Archive")
    assert log.problems == []


def test_archive_from_the_keyboard_can_be_undone_in_the_list(demo, new_page):
    page, log = new_page(viewport=VIEWPORTS["desktop"])
    log_in(page, "rita@demo.test")
    ready(page)
    first = page.locator("#message-list li.row").first
    row_id = first.get_attribute("id")
    page.keyboard.press("j")
    page.keyboard.press("e")
    expect(page.locator(f"#{row_id}")).to_have_count(0)
    expect(page.locator("#feedback-toast")).to_contain_text("Archived.")
    page.locator("#feedback-toast").get_by_role("button", name="Undo").click()
    expect(page.locator(f"#{row_id}")).to_have_count(1)
    assert log.problems == []


def test_an_error_stays_when_the_pane_marks_read_after_it(demo, new_page):
    """The pane's own mark-read, answering after a failed action, does not hide the error."""
    page, log = new_page(viewport=VIEWPORTS["desktop"])
    log_in(page, "rita@demo.test")
    held = []
    page.route(re.compile(r"/read\?up_to="), lambda route: held.append(route))
    open_lea(page)
    page.route("**/archive", lambda route: route.fulfill(status=500, body="boom"))
    page.click("#message-pane [data-key=archive]")
    alert = page.locator("#feedback-alert")
    expect(alert).to_contain_text("error 500")
    assert held, "the pane did not ask to mark the conversation read"
    held[0].continue_()
    expect(lea_row(page)).not_to_have_class(re.compile(r"\bis-unread\b"))
    expect(alert).to_be_visible()
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_be_hidden()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_server_error_is_shown_and_the_page_stays(demo, new_page, artifacts, size):
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, "rita@demo.test")
    open_lea(page)
    page.route("**/archive", lambda route: route.fulfill(status=500, body="boom"))
    page.click("#message-pane [data-key=archive]")
    alert = page.locator("#feedback-alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("error 500")
    expect(alert).to_have_attribute("role", "alert")
    # Nothing was swapped: the conversation is still there, not archived.
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    expect(page.locator("#message-pane .thread-meta")).not_to_contain_text("Archived")
    page.screenshot(path=str(artifacts / f"feedback-{size}-server-error.png"))
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_be_hidden()
    # Once the server answers again the action works and no error is left.
    page.unroute("**/archive")
    page.click("#message-pane [data-key=archive]")
    expect(page.locator("#feedback-toast")).to_contain_text("Archived.")
    expect(alert).to_be_hidden()
    # The browser and htmx log the refused request itself; nothing else went wrong.
    assert [p for p in log.problems if "500" not in p] == []


def test_network_down_and_timeout_keep_what_was_typed(demo, new_page, artifacts):
    page, log = new_page(viewport=VIEWPORTS["desktop"])
    log_in(page, "rita@demo.test")
    open_lea(page)
    page.locator("#message-pane [data-key=reply]").last.click()
    body = page.locator("#compose-form textarea[name=body]")
    expect(body).to_be_visible()
    body.fill("Thursday is perfect, see you then.")

    # Network down: the send fails, the form and its text stay.
    page.route("**/compose", lambda route: route.abort("internetdisconnected"))
    page.click("#compose-form button[type=submit]")
    alert = page.locator("#feedback-alert")
    expect(alert).to_contain_text("No connection to the server")
    expect(body).to_have_value("Thursday is perfect, see you then.")
    expect(page.locator("#compose-form button[type=submit]")).to_be_enabled()
    page.screenshot(path=str(artifacts / "feedback-desktop-network.png"))
    page.unroute("**/compose")

    # A server that never answers: the request times out with its own message.
    held = []
    page.route("**/compose", lambda route: held.append(route))
    page.evaluate("htmx.config.timeout = 300")
    page.click("#compose-form button[type=submit]")
    expect(alert).to_contain_text("took too long")
    expect(body).to_have_value("Thursday is perfect, see you then.")
    page.unroute("**/compose")
    for route in held:
        with contextlib.suppress(Exception):  # htmx already gave up on it
            route.abort()
    assert [p for p in log.problems if not re.search(r"/compose|htmx", p)] == []
