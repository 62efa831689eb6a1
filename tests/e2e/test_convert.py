"""Convert a non-candidate in a real browser: the pane, the list and the folders name the new
candidate at once, with no reload (the list is swapped with the pane)."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browse import log_in, open_folder, open_row, row

pytestmark = pytest.mark.e2e

SUBJECT = "Sponsor the Data Meetup"  # from "Data Meetup" <events@datameetup.example>


def test_a_converted_sender_is_named_at_once(demo, redis, page: Page, browser_log, artifacts):
    log_in(page, "sam@demo.test")
    open_folder(page, "non-candidates")
    expect(row(page, SUBJECT).locator(".row-from")).to_have_text("Data Meetup")
    open_row(page, row(page, SUBJECT))
    box = page.locator("#message-pane .people-box")
    box.locator("#first_name").fill("Marc")
    box.locator("#last_name").fill("Lenoir")
    box.get_by_role("button", name="Convert to candidate").click()

    expect(page.locator("#message-pane .thread-meta .chip-candidate")).to_have_text("Marc Lenoir")
    expect(page.locator("#message-pane .people-box")).to_have_count(0)
    expect(row(page, SUBJECT)).to_have_count(0)  # no longer a non-candidate's, without a reload
    page.screenshot(path=str(artifacts / "convert-after-1400.png"))
    open_folder(page, "candidates")
    expect(row(page, SUBJECT).locator(".row-from")).to_have_text("Marc Lenoir")
    assert browser_log.problems == []
