"""A bounced message and an away candidate in a real browser, at desktop and phone widths:
plain words first, the server's text behind Details, the report itself a delivery report."""

import os
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.mailmaker import dsn, raw_mail
from tests.test_inbound import DOMAIN, outcome
from webapp.mail.addresses import bounce_address
from webapp.models import Direction

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("SCREENSHOT_DIR")  # set it to keep the screenshots


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_bounce_and_away_in_the_browser(app, new_page, make, team, width):
    thread = make.thread("Interview", candidate=team.alice)
    sent = make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    back = date.today() + timedelta(days=10)
    ooo = raw_mail(
        frm="Alice <alice@outside.test>",
        subject="Out of office",
        body=f"I am away until {back.isoformat()}.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    outcome(app, ooo)
    # Then a bounce (mail from the address, the auto-reply, would have cleared it).
    verp = bounce_address(sent.id, DOMAIN, app.config["INBOUND_SECRET"])
    diagnostic = "550 5.1.1 <alice@outside.test>: Recipient address rejected: see https://phish.example/x"
    outcome(
        app, dsn(sent.message_id, "alice@outside.test", to=verp, diagnostic=diagnostic), envelope_to=[verp]
    )

    page, log = new_page(viewport={"width": width, "height": 900})
    page.goto("/login")
    page.fill("#email", "rita@team.test")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    # Signed in before going on (the inbox's list shows at every width; on a phone the folders
    # are in the closed drawer).
    expect(page.locator("#message-list")).to_be_visible()
    page.goto(f"/mail/sent/{thread.id}")
    failed = page.locator(f"#message-{sent.id} .status-failed")
    expect(failed).to_contain_text("Not delivered: Address not found")
    details = page.locator(f"#message-{sent.id} details.why", has_text="Details")
    expect(details).to_be_visible()
    details.locator("summary").click()
    expect(details).to_contain_text("phish.example/x")
    assert page.locator('a[href*="phish.example"]').count() == 0
    expect(page.locator(".note-label", has_text="Delivery report")).to_be_visible()
    expect(page.locator(".thread-meta")).to_contain_text("Away until")
    _shot(page, f"conversation-{width}")
    page.goto(f"/candidates/{team.alice.id}")
    expect(page.locator("main")).to_contain_text("alice@outside.test does not work")
    expect(page.locator("main")).to_contain_text("Away until")
    _shot(page, f"candidate-{width}")
    page.goto("/compose?to=alice@outside.test")
    expect(page.locator(".compose .notice")).to_contain_text("does not work")
    expect(page.locator(".compose .notice")).to_contain_text("is away until")
    _shot(page, f"compose-{width}")
    assert log.problems == []
