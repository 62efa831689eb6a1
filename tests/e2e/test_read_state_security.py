"""Read state in a browser: opening marks read by the page's own POST (with JavaScript), never by
the GET; without JavaScript, the buttons are forms and "Mark unread" stays unread. Screenshots of
the pane's toolbar and the 413 page at 390 and 1440 px."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.test_browse import JONAS_SUBJECT, log_in, row, thread_id, unread_count, url_is


def test_a_link_alone_does_not_mark_read_but_the_page_does(demo, page: Page, browser_log, app):
    log_in(page, "rita@demo.test")
    jonas = row(page, JONAS_SUBJECT)
    jonas_id = thread_id(jonas)
    before = unread_count(page, "inbox")
    # The GET alone (what a link from another site makes the browser do) reads nothing.
    response = page.request.get(f"/mail/inbox/{jonas_id}")
    assert response.status == 200
    page.reload()
    expect(row(page, JONAS_SUBJECT)).to_have_class(re.compile(r"\bis-unread\b"))
    assert unread_count(page, "inbox") == before
    # Opening it in the app reads it, by the page's own POST.
    with page.expect_request(lambda r: r.method == "POST" and "/read?up_to=" in r.url):
        row(page, JONAS_SUBJECT).locator("a.row-link").click()
    expect(row(page, JONAS_SUBJECT)).not_to_have_class(re.compile(r"\bis-unread\b"))
    expect(row(page, JONAS_SUBJECT)).to_have_class(re.compile(r"\bis-selected\b"))
    assert unread_count(page, "inbox") == before - 1
    assert browser_log.problems == []


def test_without_javascript_mark_unread_stays_unread(demo, new_page, artifacts):
    page, _log = new_page(java_script_enabled=False)
    log_in(page, "rita@demo.test")
    jonas_id = thread_id(row(page, JONAS_SUBJECT))
    before = unread_count(page, "inbox")
    page.goto(f"/mail/inbox/{jonas_id}")
    assert unread_count(page, "inbox") == before  # shown, not read: no script asked
    page.get_by_role("button", name="Mark read").click()
    expect(page).to_have_url(url_is(f"/mail/inbox/{jonas_id}"))
    assert unread_count(page, "inbox") == before - 1
    page.get_by_role("button", name="Mark unread").click()
    expect(page).to_have_url(url_is(f"/mail/inbox/{jonas_id}"))  # lands on the conversation...
    assert unread_count(page, "inbox") == before  # ...which stays unread
    expect(row(page, JONAS_SUBJECT)).to_have_class(re.compile(r"\bis-unread\b"))


def test_screenshots_of_the_toolbar_and_the_413_page(demo, new_page, artifacts):
    for width in (390, 1440):
        page, log = new_page(viewport={"width": width, "height": 850})
        log_in(page, "rita@demo.test")
        jonas_id = thread_id(row(page, JONAS_SUBJECT))
        page.goto(f"/mail/inbox/{jonas_id}")
        expect(page.locator(".thread-toolbar")).to_be_visible()
        toolbar = page.locator(".thread-toolbar")
        buttons = toolbar.locator("button")
        # The form around "Mark unread" leaves the buttons in one row, the same size.
        heights = {round(b.bounding_box()["height"]) for b in buttons.all() if b.is_visible()}
        assert len(heights) == 1, heights
        page.screenshot(path=str(artifacts / f"websec-toolbar-{width}.png"))
        assert log.problems == []
        token = page.locator("body").get_attribute("hx-headers")
        assert token
        page.set_content("")  # a blank page to post from, as a browser form would
        response = page.request.post(
            "/templates/new",
            multipart={"name": "x" * (2 * 1024 * 1024)},
            headers={"X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', token).group(1)},
        )
        assert response.status == 413
        page.set_content(response.text())  # (its nonce script is blocked here: a copy, not the page)
        page.screenshot(path=str(artifacts / f"websec-413-{width}.png"))


def test_a_compose_over_the_limit_says_why_and_keeps_the_form(demo, page: Page, browser_log, app, tmp_path):
    app.config["COMPOSE_MAX_REQUEST_BYTES"] = 1024 * 1024
    try:
        log_in(page, "rita@demo.test")
        page.goto("/compose")
        page.fill("input[name=to]", "someone@example.org")
        page.fill("input[name=subject]", "Too big")
        big = tmp_path / "big.pdf"
        big.write_bytes(b"%PDF" + b"0" * (2 * 1024 * 1024))
        page.set_input_files("input[type=file]", str(big))
        with page.expect_event("dialog") as dialog_info:
            # The 413 answers before the upload ends: no navigation to wait for after the click.
            page.locator("form.compose button[type=submit]").first.click(no_wait_after=True)
        dialog = dialog_info.value
        assert "larger than this page accepts (1 MB at most)" in dialog.message
        dialog.accept()
        expect(page.locator("input[name=subject]")).to_have_value("Too big")
    finally:
        app.config["COMPOSE_MAX_REQUEST_BYTES"] = app.config["COMPOSE_MAX_ATTACHMENT_BYTES"] + 5 * 1024 * 1024
    # The 413 itself is the only problem the browser saw.
    assert all("413" in p for p in browser_log.problems), browser_log.problems
