"""The settings page in a real browser, at a phone's and a desktop's width: reached from the account
menu, saved, errors in place; a new password signs out the other browser and keeps this one.
Screenshots in test-artifacts/ (settings-*.png)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_layout import DESKTOP, PHONE, log_in, page_width

pytestmark = pytest.mark.e2e


def open_settings(page: Page) -> None:
    """Through the account menu (in the drawer on a phone)."""
    menu = page.locator(".menu-button")
    if menu.is_visible():
        menu.click()
    page.locator("#account-menu a", has_text="Settings").click()
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page.locator("h1")).to_have_text("Settings")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_settings_page_saves_and_says_what_is_wrong(new_page, demo, artifacts, size):
    viewport = {"phone": PHONE, "desktop": DESKTOP}[size]
    page, log = new_page(viewport=viewport)
    log_in(page, "rita@demo.test")
    open_settings(page)
    assert page_width(page) <= viewport["width"]
    page.screenshot(path=str(artifacts / f"settings-{size}.png"), full_page=True)

    page.fill("#name", "")
    page.select_option("#timezone", "America/New_York")
    page.fill("#signature", "Rita\nTalent team, Demo")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#name-error")).to_have_text("Enter your name.")
    expect(page.locator("#signature")).to_have_value("Rita\nTalent team, Demo")  # kept as typed
    page.locator(".form-alert").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"settings-{size}-error.png"), full_page=True)

    page.fill("#name", "Rita Recruiter")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".notice-ok")).to_have_text("Your settings are saved.")
    expect(page.locator("#timezone")).to_have_value("America/New_York")

    page.fill("#current_password", "wrong password")
    page.fill("#new_password", "a brand new secret")
    page.fill("#confirm_password", "a brand new secret")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#current_password-error")).to_have_text("That is not your current password.")
    page.locator("#confirm_password").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"settings-{size}-password-error.png"), full_page=True)
    assert [p for p in log.problems if "422" not in p] == []  # the refused forms, answered in place


def test_new_password_signs_out_the_other_browser_and_keeps_this_one(new_page, demo, artifacts):
    other, _other_log = new_page()
    log_in(other, "rita@demo.test")
    page, log = new_page(viewport=DESKTOP)
    log_in(page, "rita@demo.test")
    open_settings(page)
    page.fill("#current_password", "demo-password")
    page.fill("#new_password", "a brand new secret")
    page.fill("#confirm_password", "a brand new secret")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".notice-ok")).to_contain_text("Your password is changed.")
    page.locator(".notice-ok").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "settings-password-changed.png"), full_page=True)

    page.goto("/mail/inbox")  # still signed in here
    expect(page.locator("#folder-nav")).to_be_visible()
    other.goto("/mail/inbox")  # the other browser is back at the sign-in form
    expect(other).to_have_url(re.compile(r"/login"))
    assert log.problems == []


def test_send_later_presets_say_the_time(page, browser_log, demo, artifacts):
    log_in(page, "rita@demo.test")
    page.goto("/compose")
    labels = page.locator("#preset option").all_text_contents()
    assert re.fullmatch(r"Tomorrow 8:00\sAM", labels[1]), labels
    page.select_option("#preset", "tomorrow")
    page.screenshot(path=str(artifacts / "compose-presets.png"))
    assert browser_log.problems == []


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_formatted_signature_is_written_with_the_toolbar_and_sent(new_page, app, demo, artifacts, size):
    from sqlalchemy import select

    from tests.e2e.test_compose import send_button
    from webapp.extensions import db
    from webapp.models import Message, User

    viewport = {"phone": PHONE, "desktop": DESKTOP}[size]
    page, log = new_page(viewport=viewport)
    log_in(page, "rita@demo.test")
    open_settings(page)
    page.get_by_label("Formatted").check()
    editor = page.locator("#signature-editor")
    expect(editor).to_be_visible()
    expect(page.locator("textarea#signature")).to_be_hidden()
    editor.fill("")
    editor.type("Rita Recruiter")
    page.keyboard.press("Enter")
    page.keyboard.type("Our open jobs")
    page.keyboard.press("Shift+Home")
    page.once("dialog", lambda dialog: dialog.accept("jobs.demo.test"))
    page.get_by_role("button", name="Link", exact=True).click()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.get_by_role("button", name="Bold").click()
    expect(editor.locator("b")).to_have_text("Rita Recruiter")
    expect(editor.locator("a")).to_have_attribute("href", "https://jobs.demo.test")
    assert page_width(page) <= viewport["width"]
    page.locator(".signature-field").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"settings-signature-{size}.png"))
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".notice-ok")).to_have_text("Your settings are saved.")
    expect(page.locator("#signature-editor b")).to_have_text("Rita Recruiter")  # shown as saved

    # New mail carries the plain twin in the text; the sent message shows it formatted.
    page.goto("/compose")
    expect(page.locator("#body")).to_have_value(
        re.compile(r"-- \nRita Recruiter\nOur open jobs <https://jobs.demo.test>$")
    )
    page.fill("#to", "someone@outside.test")
    page.fill("#subject", "Signed")
    page.locator("#body").press("Control+Home")
    page.keyboard.type("Hello,")
    send_button(page).click()
    frame = page.frame_locator("#message-pane iframe.html-body").last
    expect(frame.locator("b")).to_have_text("Rita Recruiter")
    page.screenshot(path=str(artifacts / f"settings-signature-sent-{size}.png"))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "rita@demo.test"))
        assert user.signature == "Rita Recruiter\nOur open jobs <https://jobs.demo.test>"
        sent = db.session.scalar(select(Message).where(Message.subject == "Signed"))
        assert '<a href="https://jobs.demo.test"' in sent.body_html
    assert log.problems == []
