"""Privacy in a real browser: forwarding a CV outside the team asks first, naming what leaves;
mail in a team member's name that the receiving server did not authenticate carries a warning.
"""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browse import LEA_SUBJECT, log_in, open_folder, open_row, row
from tests.mailmaker import raw_mail

pytestmark = pytest.mark.e2e

OUTSIDER = "hiring.manager@acme.example"


def test_forwarding_a_cv_outside_asks_first(demo, redis, page: Page, browser_log, artifacts):
    log_in(page, "rita@demo.test")
    open_row(page, row(page, LEA_SUBJECT).first)
    first = page.locator("#message-pane section.message").first
    # The application (with the CV) is not the newest message: it is folded to one line until opened.
    first.locator("summary.message-line").click()
    first.get_by_role("button", name="Forward", exact=True).click()
    expect(page.locator("#message-pane #compose-form")).to_be_visible()
    page.fill("#to", OUTSIDER)
    page.locator("#compose-form").get_by_role("button", name="Send", exact=True).click()

    warning = page.locator(".privacy-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(f"Léa Martin's CV goes to {OUTSIDER}.")
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        warning.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"leaks-privacy-warning-{width}.png"))
    page.set_viewport_size({"width": 1400, "height": 850})

    warning.get_by_label("Yes, send it outside the team").check()
    page.locator("#compose-form").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#message-pane h1.thread-subject")).to_contain_text("Fwd:")
    expect(page.locator("#message-pane .chip-candidate")).to_have_text("Léa Martin")
    # The one refusal is the warning itself (a 422 with the form, as htmx swaps it in).
    assert all("422" in p and "/compose" in p for p in browser_log.problems), browser_log.problems


def test_an_unverified_team_sender_is_flagged(app, demo, redis, page: Page, browser_log, artifacts):
    from webapp.jobs.classify import classify_job
    from webapp.receiving.receive import receive

    raw = raw_mail(
        frm="Ada Lovelace <ada@demo.test>",
        to="rita@mail.demo.test",
        subject="Urgent: new bank details",
        body="Please pay the agency invoice to this new account today.",
    )
    with app.test_request_context():
        classify_job(receive(raw, "smtp"))
    log_in(page, "rita@demo.test")
    open_folder(page, "non-candidates")
    open_row(page, row(page, "Urgent: new bank details"))
    banner = page.locator("#message-pane .status-spoofed")
    expect(banner).to_contain_text("Unverified sender.")
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        banner.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"leaks-unverified-sender-{width}.png"))
    assert browser_log.problems == []
