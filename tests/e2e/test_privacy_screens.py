"""The data protection screens in a real browser, at a phone's width and a desktop's: make a CV
link, open it signed out, see the view logged; the erase, audit and retention pages. Each page
is screenshot (test-artifacts/privacy-*.png) and must not scroll sideways nor log an error."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.test_browse import log_in
from webapp.extensions import db
from webapp.models import Attachment, Candidate, CandidateEmail, CandidateFile, Message

pytestmark = pytest.mark.e2e

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}


@pytest.fixture
def lea(app, demo) -> int:
    """Léa Martin's id, with the CV of her application on her profile."""
    with app.app_context():
        lea = db.session.scalar(
            select(Candidate).join(CandidateEmail).where(CandidateEmail.email == "lea.martin@example.com")
        )
        cv = db.session.scalar(
            select(Attachment).join(Attachment.message).where(Message.candidate_id == lea.id).limit(1)
        )
        db.session.add(CandidateFile(candidate_id=lea.id, attachment_id=cv.id))
        db.session.commit()
        return lea.id


def fits(page: Page, section: str | None = None) -> None:
    """The page's main column is no wider than the window, and nothing in it scrolls sideways
    (tables scroll inside themselves). With `section`, the column is held to the window's width
    first and only that section is measured (the rest of the page is not this change's)."""
    measured = page.evaluate(
        """section => {
            const main = document.querySelector('main');
            if (section) main.style.width = window.innerWidth + 'px';
            const target = section ? document.querySelector(section) : main;
            const found = {right: target.getBoundingClientRect().right, scroll: target.scrollWidth,
                           client: target.clientWidth, window: window.innerWidth};
            main.style.width = '';
            return found;
        }""",
        section,
    )
    assert measured["right"] <= measured["window"] + 1, (page.url, measured)
    assert measured["scroll"] <= measured["client"] + 1, (page.url, measured)


def shoot(page: Page, artifacts, name: str, section: str | None = None) -> None:
    fits(page, section)
    page.screenshot(path=str(artifacts / f"privacy-{name}.png"), full_page=True)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_privacy_screens(new_page, app, lea, artifacts, width):
    page, log = new_page(viewport=WIDTHS[width])
    log_in(page, "ada@demo.test")
    page.goto(f"/candidates/{lea}")
    expect(page.locator("#cv-links")).to_be_visible()
    page.fill("#share-name", "Hiring manager at Acme")
    page.check("input[name=section][value=profile]")
    page.click("#cv-links button[type=submit]:has-text('Create the link')")
    link = page.locator("#share-link").input_value()
    assert re.search(r"/s/[\w-]{43,}$", link)
    shoot(page, artifacts, f"link-made-{width}")

    outside, outside_log = new_page(viewport=WIDTHS[width])
    outside.goto(link)
    expect(outside.locator("h1")).to_contain_text("CV of Léa")
    shoot(outside, artifacts, f"shared-cv-{width}")
    assert outside_log.problems == []

    page.goto(f"/candidates/{lea}")
    expect(page.locator("#share-links")).to_contain_text("viewed 1 time, last by IP 127.0.0.1")
    page.locator("#cv-links").scroll_into_view_if_needed()
    # The candidate page's timeline is wider than a phone already (its own layout).
    shoot(page, artifacts, f"candidate-{width}", section="#cv-links")
    page.click("#share-links button:has-text('Revoke')")
    expect(page.locator("#share-links")).to_contain_text("revoked")
    outside.goto(link)
    expect(outside.locator("h1")).to_have_text("This link has ended")
    shoot(outside, artifacts, f"link-gone-{width}")

    page.goto(f"/candidates/{lea}/erase")
    page.fill("#confirm-name", "Léa")
    page.click("button:has-text('Erase for good')")
    expect(page.locator("#erase-error")).to_be_visible()
    shoot(page, artifacts, f"erase-{width}")

    page.goto("/admin/audit")
    expect(page.locator("#audit")).to_contain_text("Shared a CV by link")
    expect(page.locator("#audit")).to_contain_text("Keep me signed in: no")  # details in plain words
    shoot(page, artifacts, f"audit-{width}")
    page.goto("/admin/retention")
    page.fill("#retention-months", "12")
    page.click("#retention-form button")
    expect(page.locator("#dry-run")).to_contain_text("the next run erases")
    shoot(page, artifacts, f"retention-{width}")
    # The erase refusal is a 422 the page expects; nothing else may fail.
    assert [p for p in log.problems if "/erase" not in p or "422" not in p] == []
