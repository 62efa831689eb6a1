"""Settings > Mailbox in a real browser: reached from the top bar, a wrong password said in place,
a working connection saved; at phone and desktop widths (screenshots in test-artifacts/)."""

import pytest
from playwright.sync_api import expect

from tests.dovecot import DOVECOT, NOT_INSTALLED, running_dovecot
from tests.e2e.test_browse import log_in, url_is
from tests.e2e.test_compose import expected_422

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)]
RITA = "rita@demo.test"


@pytest.fixture
def dovecot():
    with running_dovecot({RITA: "imap-secret"}) as server:
        yield server


@pytest.mark.parametrize("width", [390, 1440])
def test_connect_a_mailbox(new_page, demo, dovecot, artifacts, width):
    page, log = new_page(viewport={"width": width, "height": 900})
    log_in(page, RITA)
    if width < 1024:  # on a phone the account menu is in the drawer, behind "Menu"
        page.get_by_role("button", name="Menu").click()
    page.screenshot(path=str(artifacts / f"mailbox-settings-topbar-{width}.png"), animations="disabled")
    page.locator('#account-menu a[href="/settings"]').click()  # Settings, then its Mailbox section
    expect(page).to_have_url(url_is("/settings"))
    page.locator('a[href="/settings/mailbox"]').first.click()
    expect(page).to_have_url(url_is("/settings/mailbox"))
    page.get_by_label("IMAP server").fill(dovecot.host)
    page.get_by_label("Security").select_option("none")
    page.get_by_label("Port").fill(str(dovecot.port))
    page.get_by_label("User name").fill(RITA)
    page.get_by_label("Password or app password").fill("wrong")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#password-error")).to_contain_text("refused the user name or password")
    page.screenshot(path=str(artifacts / f"mailbox-settings-error-{width}.png"), full_page=True)

    page.get_by_label("Password or app password").fill("imap-secret")
    page.get_by_role("button", name="Save and sync").click()
    expect(page.locator(".notice-ok")).to_contain_text("Mailbox connected")
    expect(page.locator("#sync-state")).to_contain_text(RITA)
    page.screenshot(path=str(artifacts / f"mailbox-settings-connected-{width}.png"), full_page=True)
    expected_422(log, "/settings/mailbox/test")  # the refused test answers 422, as forms with errors do
    assert log.problems == []
