"""Browser steps shared by the e2e tests (Playwright, against the demo data)."""

from playwright.sync_api import Page, expect

from tests.e2e.test_keyboard import ready
from tests.e2e.test_layout import LEA_SUBJECT, lea_row


def open_lea(page: Page, folder: str = "candidates") -> str:
    """Open Léa's application from a folder's list, as a click does; its thread id."""
    page.goto(f"/mail/{folder}")
    ready(page)
    lea_row(page).locator("a.row-link").click()
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    return page.locator("#message-pane").get_attribute("data-thread")
