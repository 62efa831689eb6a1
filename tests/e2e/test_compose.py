"""Writing mail in a real browser: reply, the Cc rule shown in place, send later and cancel,
templates with a preview. The compose form swaps into the pane, its errors come back with 422.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browse import JONAS_SUBJECT, log_in, open_folder, open_row, row, url_is

pytestmark = pytest.mark.e2e

JONAS = "jonas.becker@example.org"
LEA = "lea.martin@example.com"
# Every field of the form and its visible label (the "Send at" label also names the time zone).
LABELS = {
    "to": "To",
    "cc": "Cc",
    "bcc": "Bcc",
    "subject": "Subject",
    "body": "Message",
    "attachments": "Attachments",
    "send_at": re.compile(r"^Send at\b"),
}
# What Tab visits from To to Send, in order (a date-time input takes several Tabs, one per part).
# The template select is there when the user has templates; "Send at" once "At a chosen time" is picked.
TAB_ORDER = [
    "to",
    "cc",
    "bcc",
    "template_id",
    "subject",
    "body",
    "Placeholders",
    "attachments",
    "preset",
    "send_at",
    "Send",
]


def send_button(page: Page):
    return page.locator("#compose-form").get_by_role("button", name="Send", exact=True)


def open_jonas(page: Page) -> int:
    """Open "Availability for a call" from the inbox; returns the conversation id."""
    jonas = row(page, JONAS_SUBJECT)
    expect(jonas).to_have_count(1)
    return open_row(page, jonas)


def click_reply(page: Page) -> None:
    """Reply to the last message of the open conversation; waits for the form."""
    last = page.locator("#message-pane section.message").last
    last.get_by_role("button", name="Reply", exact=True).click()
    expect(page.locator("#message-pane #compose-form")).to_be_visible()


def type_first_line(page: Page, line: str) -> None:
    """Type at the very top of the message, above the signature and the quote, as a user would."""
    body = page.locator("#body")
    body.click()
    body.press("Control+Home")
    page.keyboard.type(line)


def tab_stops(page: Page, start: str, until: str, limit: int = 40) -> list[str]:
    """Press Tab from #start until the focused element is named `until`; the stops, repeats folded."""
    page.locator(f"#{start}").focus()
    stops = [start]
    for _ in range(limit):
        page.keyboard.press("Tab")
        name = page.evaluate(
            "() => { const e = document.activeElement; return e.id || e.textContent.trim(); }"
        )
        if name != stops[-1]:
            stops.append(name)
        if name == until:
            return stops
    raise AssertionError(f"Tab never reached {until!r}: {stops}")


def scroll_pane_to_top(page: Page) -> None:
    """The pane scrolls on its own (the page does not): show the form from its first field."""
    page.locator("#message-pane").evaluate("pane => { pane.scrollTop = 0; }")


def expected_422(log, url_end: str = "/compose") -> None:
    """The refused send is the one 4xx we expect: take it (and Chromium's console echo) off the log."""
    log.failed_requests[:] = [
        r for r in log.failed_requests if not re.fullmatch(rf"POST \S+{re.escape(url_end)}: HTTP 422", r)
    ]
    log.console_errors[:] = [e for e in log.console_errors if "status of 422" not in e]


def test_reply_from_the_inbox(demo, redis, page: Page, browser_log, artifacts):
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    before = page.locator("#message-pane section.message").count()
    click_reply(page)

    form = page.locator("#compose-form")
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text("Reply")
    expect(page.locator("#to")).to_have_value(JONAS)
    expect(page.locator("#cc")).to_have_value("")
    expect(page.locator("#subject")).to_have_value(f"Re: {JONAS_SUBJECT}")
    expect(page.locator("#body")).to_have_value(re.compile(r"wrote:\n> Hi Rita, I am free Monday"))
    # "Send at" shows only for "At a chosen time": a date typed next to "Now" would be ignored.
    expect(page.locator("#send_at")).to_be_hidden()
    assert tab_stops(page, "to", until="Send") == [
        s for s in TAB_ORDER if s not in ("template_id", "send_at")
    ]
    page.locator("#preset").select_option(label="At a chosen time")
    for field_id, label in LABELS.items():
        labelled = (
            form.get_by_label(label, exact=True) if isinstance(label, str) else form.get_by_label(label)
        )
        expect(labelled).to_have_attribute("id", field_id)
        expect(labelled).to_be_visible()
        expect(form.locator(f'label[for="{field_id}"]')).to_be_visible()
    assert tab_stops(page, "to", until="Send") == [s for s in TAB_ORDER if s != "template_id"]
    page.locator("#preset").select_option(label="Now")
    expect(page.locator("#send_at")).to_be_hidden()

    type_first_line(page, "Tuesday at 15:00 works for me.")
    expect(page.locator("#body")).to_have_value(re.compile(r"^Tuesday at 15:00 works for me\.\n"))
    scroll_pane_to_top(page)
    page.screenshot(path=str(artifacts / "compose-reply.png"))

    send_button(page).click()
    expect(page).to_have_url(url_is(f"/mail/sent/{jonas_id}"))
    pane = page.locator("#message-pane")
    expect(pane).to_have_attribute("data-thread", str(jonas_id))
    expect(pane.locator("h1.thread-subject")).to_have_text(JONAS_SUBJECT)
    expect(pane.locator("section.message")).to_have_count(before + 1)
    mine = pane.locator("section.message").last
    expect(mine).to_have_class(re.compile(r"\bis-outbound\b"))
    expect(mine.locator(".message-to")).to_contain_text(JONAS)
    expect(mine.locator(".message-body")).to_contain_text("Tuesday at 15:00 works for me.")
    # No worker runs in the browser tests: the message waits in the queue ("Sending…").
    expect(mine.locator(".status")).to_have_text(re.compile(r"^\s*Sending…"))
    expect(page.locator("#compose-form")).to_have_count(0)
    page.screenshot(path=str(artifacts / "compose-reply-sent.png"))

    assert browser_log.problems == []


def test_candidate_in_cc_is_refused_in_place(demo, redis, page: Page, browser_log, artifacts):
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    before = page.locator("#message-pane section.message").count()
    click_reply(page)
    page.locator("#cc").fill(LEA)
    type_first_line(page, "Léa, meet Jonas.")

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/compose")) as sent:
        send_button(page).click()
    assert sent.value.status == 422

    # The form is back in the pane, still a reply, the error next to Cc, nothing typed is lost.
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text("Reply")
    cc_field = page.locator(".field.has-error", has=page.locator("#cc"))
    expect(cc_field).to_be_visible()
    error = cc_field.locator("#cc-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"{LEA} is a candidate's address")
    expect(page.locator("#cc")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#cc")).to_have_attribute("aria-describedby", "cc-error")
    expect(page.locator("#message-pane .form-alert")).to_be_visible()
    bulk = page.locator(".field:has(#cc) + .compose-bulk-hint").get_by_role(
        "link", name=re.compile("bulk email", re.I)
    )
    expect(bulk).to_be_visible()
    expect(bulk).to_have_attribute("href", "/bulk/new")
    expect(page.locator("#cc")).to_have_value(LEA)
    expect(page.locator("#to")).to_have_value(JONAS)
    expect(page.locator("#subject")).to_have_value(f"Re: {JONAS_SUBJECT}")
    expect(page.locator("#body")).to_have_value(re.compile(r"^Léa, meet Jonas\.\n[\s\S]*> Hi Rita"))
    expect(page).to_have_url(url_is(f"/mail/inbox/{jonas_id}"))
    scroll_pane_to_top(page)
    page.screenshot(path=str(artifacts / "compose-error.png"))

    # Taking the candidate out of Cc lets the same form go.
    page.locator("#cc").fill("")
    send_button(page).click()
    expect(page).to_have_url(url_is(f"/mail/sent/{jonas_id}"))
    expect(page.locator("#message-pane section.message")).to_have_count(before + 1)
    expect(page.locator("#message-pane section.message").last).to_contain_text("Léa, meet Jonas.")

    expected_422(browser_log)
    assert browser_log.problems == []


def test_send_later_then_cancel(demo, redis, page: Page, browser_log):
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    click_reply(page)
    type_first_line(page, "I will call you tomorrow.")
    page.locator("#preset").select_option(value="tomorrow")
    expect(page.locator("#preset option[value=tomorrow]")).to_have_text(re.compile(r"^Tomorrow 8:00\sAM$"))
    send_button(page).click()

    expect(page).to_have_url(url_is(f"/mail/scheduled/{jonas_id}"))
    mine = page.locator("#message-pane section.message").last
    expect(mine.locator(".status")).to_have_text(re.compile(r"^\s*Scheduled for \S"))
    expect(mine.locator(".message-body")).to_contain_text("I will call you tomorrow.")

    # The Send later folder lists it; cancelling (after the confirmation) takes it out.
    open_folder(page, "scheduled")
    scheduled = row(page, f"Re: {JONAS_SUBJECT}")
    expect(scheduled).to_have_count(1)
    open_row(page, scheduled)
    mine = page.locator("#message-pane section.message").last
    expect(mine.locator(".status")).to_have_text(re.compile(r"^\s*Scheduled for "))
    with page.expect_response(lambda r: "/cancel" in r.url) as cancelled:
        mine.get_by_role("button", name="Cancel sending").click()
    assert cancelled.value.status == 200
    # Not into nothing: the composer, with the message as a draft.
    expect(page.locator("#message-pane")).to_contain_text("kept in Drafts")
    expect(page.locator("#body")).to_have_value(re.compile(r"^I will call you tomorrow\."))
    expect(page.locator("#message-pane")).not_to_contain_text("Scheduled for")
    expect(scheduled).to_have_count(0)  # the open list drops the row at once
    drafts_count = page.locator('#folder-nav a[data-folder="drafts"] .count')
    expect(drafts_count).to_have_text("2")  # the demo's draft and this one

    open_folder(page, "scheduled")
    expect(row(page, f"Re: {JONAS_SUBJECT}")).to_have_count(0)
    open_folder(page, "drafts")
    expect(row(page, f"Re: {JONAS_SUBJECT}")).to_have_count(1)
    assert browser_log.problems == []


def test_cancel_goes_back_to_where_the_user_was(demo, page: Page, browser_log):
    log_in(page, "rita@demo.test")
    jonas_id = open_jonas(page)
    click_reply(page)
    page.locator("#compose-form").get_by_role("link", name="Cancel").click()
    expect(page.locator("#compose-form")).to_have_count(0)
    expect(page.locator("#message-pane")).to_have_attribute("data-thread", str(jonas_id))
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(JONAS_SUBJECT)
    expect(page).to_have_url(url_is(f"/mail/inbox/{jonas_id}"))

    open_folder(page, "sent")
    page.locator("#message-list .new-email").click()
    expect(page.locator("#compose-form")).to_be_visible()
    page.locator("#compose-form").get_by_role("link", name="Cancel").click()
    expect(page.locator("#compose-form")).to_have_count(0)
    expect(page).to_have_url(url_is("/mail/sent"))
    expect(page.locator("#message-list")).to_have_attribute("data-folder", "sent")
    assert browser_log.problems == []


@pytest.mark.parametrize(
    ("address", "greeting"),
    [
        pytest.param(LEA, "Hi Léa", id="lea"),
        # Jonas is on a job and a talent pool: [job.title] is the job's.
        pytest.param(JONAS, "Hi Jonas", id="jonas"),
    ],
)
def test_template_fills_the_form_and_previews(app, demo, page: Page, browser_log, address, greeting):
    from webapp.extensions import db
    from webapp.models import Template

    with app.app_context():
        db.session.add(
            Template(
                name="Interview invitation",
                subject="Interview for [job.title]",
                body="Hi [candidate.first_name]",
                owner_id=None,
            )
        )
        db.session.commit()

    log_in(page, "rita@demo.test")
    page.locator("#message-list .new-email").click()
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text("New email")
    expect(page.locator("#to")).to_be_focused()
    page.locator("#to").fill(address)
    expect(page.locator("#template_id option:checked")).to_have_text("No template")
    page.locator("#template_id").select_option(label="Interview invitation")
    expect(page.locator("#subject")).to_have_value("Interview for [job.title]")
    expect(page.locator("#body")).to_have_value(re.compile(r"^Hi \[candidate\.first_name\]"))

    page.locator("#compose-form").get_by_role("button", name="Preview").click()
    preview = page.locator("#compose-preview")
    expect(preview).to_contain_text(f"As {address} will read it")
    expect(preview).to_contain_text("Interview for Backend Engineer (Python)")
    expect(preview).to_contain_text(greeting)
    expect(preview.locator(".field-error")).to_have_count(0)
    assert browser_log.problems == []


def test_preview_is_live_once_shown(demo, page: Page, browser_log):
    log_in(page, "rita@demo.test")
    page.locator("#message-list .new-email").click()
    form = page.locator("#compose-form")
    form.get_by_label("To", exact=True).fill(LEA)
    form.get_by_label("Subject", exact=True).fill("Hello [candidate.first_name]")
    form.get_by_role("button", name="Preview").click()
    expect(page.locator("#compose-preview")).to_contain_text("Hello Léa")
    # Typing again updates it without another click.
    form.get_by_label("Subject", exact=True).fill("Dear [candidate.full_name]")
    expect(page.locator("#compose-preview")).to_contain_text("Dear Léa Martin")
    assert browser_log.problems == []
