"""Small defects seen in a walk-through, each shown at a phone's and a desktop's width: the bulk
tick box never covers a selected row's accent bar nor its text; Drafts keeps the line breaks of
what was written (the quoted text is not run together on one line)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browse import open_row, row
from tests.e2e.test_layout import VIEWPORTS, log_in

pytestmark = pytest.mark.e2e


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found is not None
    return found


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_tick_box_of_a_clicked_row_stays_clear_of_its_accent_bar(demo, new_page, artifacts, size):
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, "rita@demo.test")
    page.goto("/mail/candidates")
    first = page.locator("#message-list li.row").first
    if size == "phone":
        # No hover on a phone: select mode shows the boxes, and the row opened last keeps its bar
        # when the list is shown again (set here: going back re-renders the list).
        page.locator(".select-toggle").click()
        first.evaluate("li => li.classList.add('is-selected')")
    else:
        open_row(page, first)
        page.wait_for_load_state("networkidle")  # the mark-read swaps the row in again
        first.hover()
    first = page.locator("#message-list li.row.is-selected")
    pick = first.locator(".row-pick")
    expect(pick).to_have_css("opacity", "1")
    bar_right = box(first.locator(".row-link"))["x"] + 3  # the 3 px accent bar of a selected row
    tick, text = box(pick), box(first.locator(".row-from"))
    assert tick["x"] >= bar_right, (tick, bar_right)  # not over the accent bar
    assert tick["x"] + tick["width"] <= text["x"], (tick, text)  # nor over the name
    first.screenshot(path=str(artifacts / f"defect-tick-box-selected-row-{size}.png"))
    assert log.problems == []


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_drafts_keep_the_line_breaks_and_leave_the_quote_out(demo, new_page, artifacts, size):
    from tests.e2e.test_compose import click_reply, open_jonas

    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    click_reply(page)
    body = page.locator("#body")
    body.click()
    body.press("Control+Home")
    with page.expect_response(lambda r: r.url.endswith("/compose/draft")):
        page.keyboard.type("Hi Jonas,")
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")
        page.keyboard.type("Tuesday at 3 works for me.")
    expect(page.locator("#draft-state")).to_contain_text("Draft saved")

    page.goto("/mail/drafts")
    draft = row(page, "Re: Availability for a call")
    snippet = draft.locator(".row-snippet")
    expect(snippet).to_contain_text("Hi Jonas, Tuesday at 3 works for me.")
    expect(snippet).not_to_contain_text("wrote:")  # the quote stays in the draft, not in its row
    expect(snippet).not_to_contain_text("Rita Moreno")  # nor the signature
    page.screenshot(path=str(artifacts / f"defect-drafts-list-{size}.png"))

    page.goto(f"/mail/inbox/{jonas_id}")
    preview = page.locator("#message-pane .draft-box .draft-preview")
    assert preview.inner_text() == "Hi Jonas,\n\nTuesday at 3 works for me."  # its own lines
    preview.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"defect-drafts-box-{size}.png"))
    assert log.problems == []
