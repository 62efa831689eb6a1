"""Bulk email in a real browser, at phone and desktop width: tick rows in a folder, "Email
selected", write with placeholders, send later, confirm N and the first message (and go back
without losing anything), then cancel the scheduled bulk from its page.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_layout import VIEWPORTS, assert_fits, log_in

pytestmark = pytest.mark.e2e

SUBJECT = "Next steps, [candidate.first_name|hello]"
BODY = "Hi [candidate.first_name|there],\n\nCould we talk this week about [job.title|your application]?"


def replaced_summaries(log) -> None:
    """Take off the log the summary requests a newer one replaced (hx-sync "replace" aborts them on
    purpose, and htmx echoes each abort to the console); anything else stays a problem.

    htmx logs each abort as one htmx:afterRequest and one htmx:sendAbort, whether or not the
    request had reached the network (a failed request is logged then): only such pairs go."""
    aborted = [
        r for r in log.failed_requests if re.fullmatch(r"POST \S+/bulk/new/summary: net::ERR_ABORTED", r)
    ]
    log.failed_requests[:] = [r for r in log.failed_requests if r not in aborted]
    pairs = sum(e.startswith("htmx:sendAbort,") for e in log.console_errors)
    kept: list[str] = []
    for error in log.console_errors:
        if pairs and error.startswith("htmx:afterRequest,"):
            pairs -= 1  # the afterRequest of an abort
            continue
        if not error.startswith("htmx:sendAbort,"):
            kept.append(error)
    log.console_errors[:] = kept


def ticked_candidates(page: Page) -> set[str]:
    return set(page.locator("#message-list .row-pick:checked").evaluate_all("els => els.map(e => e.value)"))


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_email_selected_rows_confirm_schedule_and_cancel(demo, redis, new_page, artifacts, size):
    page, log = new_page(viewport=VIEWPORTS[size])
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, "rita@demo.test")
    page.wait_for_load_state("networkidle")  # a goto would abort the inbox's favicon
    page.goto("/mail/candidates")
    picks = page.locator("#message-list li.row .row-pick")
    assert picks.count() >= 2
    expect(page.locator(".email-selected")).to_be_hidden()  # nothing ticked yet
    # Select mode shows every checkbox; the rows keep their two lines.
    height = page.locator("#message-list li.row").first.bounding_box()["height"]
    opacity = "e => getComputedStyle(e).opacity"
    if size == "desktop":  # with a mouse, hovering a row shows its checkbox; the others stay quiet
        page.locator("#message-list li.row").first.hover()
        assert picks.first.evaluate(opacity) == "1"
        assert picks.nth(1).evaluate(opacity) == "0"
    page.locator(".select-toggle").click()
    expect(picks.first).to_be_visible()
    assert page.locator("#message-list li.row").first.bounding_box()["height"] == height
    picks.nth(0).check()
    picks.nth(1).check()
    wanted = ticked_candidates(page)
    expect(page.locator(".email-selected")).to_be_visible()
    assert_fits(page)
    page.screenshot(path=str(artifacts / f"bulk-{size}-1-select.png"))

    page.get_by_role("button", name="Email selected").click()
    expect(page).to_have_url(re.compile(r"/bulk/new\?candidate="))
    n = len(wanted)
    people = f"{n} recipients" if n > 1 else "1 recipient"
    expect(page.locator("#bulk-summary h2")).to_have_text(people)
    page.fill("#subject", SUBJECT)
    page.fill("#body", BODY)
    page.select_option("#preset", "tomorrow")
    expect(page.locator("#bulk-summary .preview-card")).to_contain_text("Could we talk this week")
    assert_fits(page)
    page.screenshot(path=str(artifacts / f"bulk-{size}-1b-form.png"), full_page=True)
    page.locator(".bulk-edit").get_by_role("button", name=re.compile(r"^Send \d+ emails?$")).click()

    confirm = page.locator(".bulk-confirm")
    expect(confirm).to_be_visible()
    expect(confirm.locator("h2")).to_have_text(re.compile(rf"^Send this email to {n} (people|person)\?$"))
    expect(confirm.locator(".bulk-confirm-subject")).not_to_contain_text("[candidate")
    expect(confirm.locator(".text-body")).to_contain_text("Could we talk this week")
    expect(page.locator(".bulk-edit")).to_be_hidden()
    assert_fits(page)
    page.screenshot(path=str(artifacts / f"bulk-{size}-2-confirm.png"), full_page=True)

    # Back: the form as it was, nothing sent.
    confirm.get_by_role("button", name="Back to editing").click()
    expect(page.locator("#subject")).to_have_value(SUBJECT)
    expect(page.locator("#body")).to_have_value(BODY)
    expect(page.locator("#preset")).to_have_value("tomorrow")
    page.locator(".bulk-edit").get_by_role("button", name=re.compile(r"^Send \d+ emails?$")).click()
    confirm.get_by_role("button", name=re.compile(rf"^Schedule {n} emails?$")).click()

    expect(page).to_have_url(re.compile(r"/bulk/\d+$"))
    state = page.locator(".bulk-state")
    expect(state).to_contain_text(re.compile(rf"Scheduled: {n} emails? will be sent"))
    expect(page.locator('.bulk-count[data-status="scheduled"]')).to_have_text(str(n))
    assert_fits(page)
    page.screenshot(path=str(artifacts / f"bulk-{size}-3-scheduled.png"), full_page=True)

    page.locator(".bulk-cancel button").click()
    expect(state).to_have_text("Cancelled: nothing was sent.")
    expect(page.locator(".bulk-cancel")).to_have_count(0)
    page.screenshot(path=str(artifacts / f"bulk-{size}-4-cancelled.png"), full_page=True)
    replaced_summaries(log)
    assert log.problems == []
