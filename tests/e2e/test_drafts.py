"""Never lose work, in a real browser at phone and desktop widths: a reply kept as a draft while
the user types and looks elsewhere, Drafts with its count, Undo send, and a reply that would
cross someone else's asks first."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.test_browse import JONAS_SUBJECT, log_in, open_folder, row, url_is
from tests.e2e.test_compose import click_reply, expected_422, open_jonas, send_button, type_first_line
from webapp.extensions import db
from webapp.models import Message, Thread, User
from webapp.models.types import utcnow

pytestmark = pytest.mark.e2e

WIDTHS = [pytest.param(390, id="phone"), pytest.param(1440, id="desktop")]


def sized(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reply_is_kept_as_a_draft_while_looking_elsewhere(
    demo, redis, page: Page, browser_log, artifacts, width
):
    sized(page, width)
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    click_reply(page)
    with page.expect_response(lambda r: r.url.endswith("/compose/draft")) as saved:
        type_first_line(page, "Half a thought about Tuesday")
    assert saved.value.status == 200
    expect(page.locator("#draft-state")).to_contain_text("Draft saved")
    # The demo's own draft, and this one.
    expect(page.locator('#folder-nav a[data-folder="drafts"] .count')).to_have_text("2")
    page.screenshot(path=str(artifacts / f"drafts-saved-{width}.png"))

    open_folder(page, "sent")  # somewhere else
    page.goto(f"/mail/inbox/{jonas_id}")  # and back, as after a reload
    box = page.locator("#message-pane .draft-box")
    expect(box).to_contain_text("Half a thought about Tuesday")
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"drafts-conversation-{width}.png"))
    box.get_by_role("link", name="Go on writing").click()
    expect(page.locator("#body")).to_have_value(re.compile(r"^Half a thought about Tuesday"))

    open_folder(page, "drafts")
    draft = row(page, f"Re: {JONAS_SUBJECT}")
    expect(draft).to_have_count(1)
    page.screenshot(path=str(artifacts / f"drafts-folder-{width}.png"))
    draft.locator("a.row-link").click()
    expect(page.locator("#body")).to_have_value(re.compile(r"^Half a thought about Tuesday"))
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#compose-form").get_by_role("button", name="Delete draft").click()
    expect(page).to_have_url(url_is("/mail/drafts"))
    expect(row(page, f"Re: {JONAS_SUBJECT}")).to_have_count(0)
    expect(page.locator('#folder-nav a[data-folder="drafts"] .count')).to_have_text("1")
    assert browser_log.problems == []


@pytest.mark.parametrize("width", WIDTHS)
def test_undo_send_brings_the_composer_back(app, demo, redis, page: Page, browser_log, artifacts, width):
    app.config["UNDO_SEND_SECONDS"] = 10
    try:
        sized(page, width)
        log_in(page, "rita@demo.test")
        page.goto("/compose")
        page.fill("#to", "someone@outside.test")
        page.fill("#cc", "copy@outside.test")
        page.fill("#subject", "Offer letter draft")
        type_first_line(page, "Dear someone, here it is.")
        page.set_input_files(
            "#attachments",
            files=[{"name": "offer.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 offer"}],
        )
        send_button(page).click()
        notice = page.locator("#message-pane .undo-notice")
        expect(notice).to_contain_text("Sending…")
        page.screenshot(path=str(artifacts / f"undo-sending-{width}.png"))
        notice.get_by_role("button", name="Undo").click()
        expect(page.locator("#message-pane")).to_contain_text("It is a draft again")
        expect(page.locator("#to")).to_have_value("someone@outside.test")
        expect(page.locator("#cc")).to_have_value("copy@outside.test")
        expect(page.locator("#subject")).to_have_value("Offer letter draft")
        expect(page.locator("#body")).to_have_value(re.compile(r"^Dear someone, here it is\."))
        expect(page.locator("#message-pane")).to_contain_text("offer.pdf")
        page.screenshot(path=str(artifacts / f"undo-undone-{width}.png"))
        with app.app_context():
            statuses = db.session.scalars(
                select(Message.status).where(Message.subject == "Offer letter draft")
            ).all()
        assert statuses == ["draft"]
    finally:
        app.config["UNDO_SEND_SECONDS"] = 0
    assert browser_log.problems == []


def test_the_pane_settles_after_the_undo_window(app, demo, redis, page: Page, browser_log):
    app.config["UNDO_SEND_SECONDS"] = 1
    try:
        log_in(page, "rita@demo.test")
        page.goto("/compose")
        page.fill("#to", "someone@outside.test")
        page.fill("#subject", "Quick note")
        send_button(page).click()
        expect(page.locator("#message-pane .undo-notice")).to_be_visible()
        # No worker in the browser tests: after the window the pane asks again and drops the Undo.
        expect(page.locator("#message-pane .undo-notice")).to_have_count(0, timeout=6_000)
        expect(page.locator("#message-pane")).to_contain_text("Quick note")
    finally:
        app.config["UNDO_SEND_SECONDS"] = 0
    assert browser_log.problems == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reply_crossing_a_colleagues_asks_first(
    app, demo, redis, page: Page, browser_log, artifacts, width
):
    sized(page, width)
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    click_reply(page)
    type_first_line(page, "Tuesday works.")
    with app.app_context():  # meanwhile, a colleague answers Jonas
        sam = db.session.scalar(select(User).where(User.email != "rita@demo.test", User.role != "admin"))
        thread = db.session.get_one(Thread, jonas_id)
        last = db.session.scalars(
            select(Message).where(Message.thread_id == jonas_id).order_by(Message.id)
        ).all()[-1]
        at = utcnow() - timedelta(minutes=2)
        db.session.add(
            Message(
                thread_id=jonas_id,
                direction="outbound",
                status="sent",
                sender_id=sam.id,
                from_address="sam@mail.demo.test",
                to_addresses=last.to_addresses or [last.from_address],
                subject=f"Re: {JONAS_SUBJECT}",
                body_text="Jonas, Monday it is.",
                snippet="Jonas, Monday it is.",
                candidate_id=thread.candidate_id,
                sort_at=at,
                created_at=at,
                sent_at=at,
            )
        )
        db.session.commit()
        from webapp.mail.read import entries

        entries.refresh([jonas_id])
        db.session.commit()
        name = sam.name
    send_button(page).click()
    warning = page.locator("#message-pane .collision-warning")
    expect(warning).to_contain_text(f"{name} wrote 2 min ago")
    expect(warning).to_contain_text("Jonas, Monday it is.")
    warning.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"collision-{width}.png"))
    warning.get_by_label("Send it anyway").check()
    send_button(page).click()
    expect(page).to_have_url(url_is(f"/mail/sent/{jonas_id}"))
    expect(page.locator("#message-pane section.message").last).to_contain_text("Tuesday works.")
    expected_422(browser_log)  # the send held back to confirm
    assert browser_log.problems == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_forward_and_an_edit_of_send_later_are_kept_as_drafts(
    demo, redis, page: Page, browser_log, artifacts, width
):
    from tests.e2e.test_browse import open_row

    sized(page, width)
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    # A forward begun, then another conversation: the forward is kept.
    page.locator("#message-pane section.message").last.get_by_role("button", name="Forward").click()
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text("Forward")
    page.fill("#to", "hiring.manager@partner.test")
    with page.expect_response(lambda r: r.url.endswith("/compose/draft")):
        type_first_line(page, "Worth a look, I think")
    expect(page.locator("#draft-state")).to_contain_text("Draft saved")
    page.screenshot(path=str(artifacts / f"drafts-forward-{width}.png"))
    open_folder(page, "sent")
    page.goto(f"/mail/inbox/{jonas_id}")
    page.locator("#message-pane section.message").last.get_by_role("button", name="Forward").click()
    expect(page.locator("#body")).to_have_value(re.compile(r"^Worth a look, I think"))
    expect(page.locator("#to")).to_have_value("hiring.manager@partner.test")

    # Send later, then Edit: the edit is kept too while the user looks elsewhere.
    page.goto(f"/mail/inbox/{jonas_id}")
    click_reply(page)
    type_first_line(page, "I will call you tomorrow.")
    page.locator("#preset").select_option(value="tomorrow")
    send_button(page).click()
    expect(page).to_have_url(url_is(f"/mail/scheduled/{jonas_id}"))
    mine = page.locator("#message-pane section.message").last
    mine.get_by_role("button", name="Edit").click()
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text("Edit scheduled email")
    with page.expect_response(lambda r: r.url.endswith("/compose/draft")):
        type_first_line(page, "Change of plan: ")
    expect(page.locator("#draft-state")).to_contain_text("Draft saved")
    page.screenshot(path=str(artifacts / f"drafts-edit-scheduled-{width}.png"))
    open_folder(page, "inbox")
    open_folder(page, "drafts")
    expect(row(page, f"Fwd: {JONAS_SUBJECT}")).to_have_count(1)
    edit_row = row(page, f"Re: {JONAS_SUBJECT}")
    expect(edit_row).to_have_count(1)
    expect(edit_row.locator(".chip", has_text="Editing scheduled mail")).to_have_count(1)  # not a new reply
    page.screenshot(path=str(artifacts / f"drafts-forward-and-edit-listed-{width}.png"))
    open_row(page, edit_row)
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text("Edit scheduled email")
    expect(page.locator("#body")).to_have_value(re.compile(r"^Change of plan: I will call you tomorrow\."))
    page.locator("#compose-form").get_by_role("button", name="Save changes").click()
    mine = page.locator("#message-pane section.message").last
    expect(mine.locator(".message-body")).to_contain_text("Change of plan: I will call you tomorrow.")
    open_folder(page, "drafts")
    expect(row(page, f"Re: {JONAS_SUBJECT}")).to_have_count(0)  # saved into the message: no draft left
    expect(row(page, f"Fwd: {JONAS_SUBJECT}")).to_have_count(1)
    assert browser_log.problems == []
